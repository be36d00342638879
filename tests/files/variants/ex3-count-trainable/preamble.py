# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
from types import SimpleNamespace

import torch

lab = SimpleNamespace(model=torch.nn.Sequential(torch.nn.Embedding(12, 4), torch.nn.Linear(4, 3)))
lab.model[0].weight.requires_grad_(False)
