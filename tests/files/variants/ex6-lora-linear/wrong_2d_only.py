# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import math

import torch
from torch import nn


class LoRALinear(nn.Module):
    def __init__(self, base, r=8, alpha=16):
        super().__init__()
        self.base = base
        for param in self.base.parameters():
            param.requires_grad_(False)
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        self.scaling = alpha / r

    def forward(self, x):
        # h = W x + s B A x, written for column vectors
        return self.base(x) + self.scaling * (self.lora_B @ self.lora_A @ x.t()).t()
