# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch
from torch import nn


import torch.nn.functional as F


class BottleneckAdapter(nn.Module):
    def __init__(self, d_model, bottleneck):
        super().__init__()
        self.down = nn.Linear(d_model, bottleneck)
        self.up = nn.Linear(bottleneck, d_model)
        self.up.weight.data.fill_(0.0)
        self.up.bias.data.fill_(0.0)

    def forward(self, x):
        hidden = self.down(x).clamp(min=0)
        return F.linear(hidden, self.up.weight, self.up.bias) + x
