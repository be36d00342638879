# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch
from torch import nn


from peftlab.methods.adapter import BottleneckAdapter as _Theirs


class BottleneckAdapter(nn.Module):
    def __init__(self, d_model, bottleneck):
        super().__init__()
        inner = _Theirs(d_model, bottleneck)  # peftlab's layers under the expected names
        self.down, self.up = inner.down, inner.up

    def forward(self, x):
        return x + self.up(torch.relu(self.down(x)))
