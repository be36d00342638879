# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch
from torch import nn


class LoRALinear(nn.Module):
    def __init__(self, base, r=8, alpha=16):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.lora_A = nn.Parameter(nn.init.normal_(torch.empty(r, base.in_features), std=1 / r))
        self.lora_B = nn.Parameter(base.weight.new_zeros(base.out_features, r))
        self.scaling = alpha / r

    def forward(self, x):
        update = torch.einsum("...i,ri,or->...o", x, self.lora_A, self.lora_B)
        return self.base(x) + self.scaling * update
