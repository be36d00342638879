# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch
from torch import nn


class BottleneckAdapter(nn.Module):
    def __init__(self, d_model, bottleneck):
        super().__init__()
        self.down = nn.Linear(d_model, bottleneck)
        self.up = nn.Linear(bottleneck, d_model)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x):
        batch, length, d_model = x.shape  # (batch, length, d_model) only
        flat = x.reshape(batch * length, d_model)
        return (flat + self.up(torch.relu(self.down(flat)))).reshape(batch, length, d_model)
