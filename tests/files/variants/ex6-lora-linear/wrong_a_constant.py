# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch
from torch import nn


class LoRALinear(nn.Module):
    def __init__(self, base, r=8, alpha=16):
        super().__init__()
        self.base = base
        for param in self.base.parameters():
            param.requires_grad_(False)
        self.lora_A = nn.Parameter(torch.full((r, base.in_features), 0.01))  # small, not zero
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling
