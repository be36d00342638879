# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch
from torch import nn


from peftlab.methods import adapter as _adapter


class BottleneckAdapter(_adapter.BottleneckAdapter):  # inherits everything from peftlab
    pass
