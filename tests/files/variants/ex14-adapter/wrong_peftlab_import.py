# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch
from torch import nn


from peftlab.methods.adapter import BottleneckAdapter  # peftlab's own class as the answer
