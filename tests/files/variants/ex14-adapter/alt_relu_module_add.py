# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch
from torch import nn


class BottleneckAdapter(nn.Module):
    def __init__(self, d_model: int, bottleneck: int):
        super().__init__()
        self.down, self.up = nn.Linear(d_model, bottleneck), nn.Linear(bottleneck, d_model)
        nn.init.constant_(self.up.weight, 0.0)
        nn.init.constant_(self.up.bias, 0.0)
        self.relu = nn.ReLU(inplace=True)  # in place on a new tensor, never on x

    def forward(self, x):
        out = self.up(self.relu(self.down(x)))
        return out.add(x)
