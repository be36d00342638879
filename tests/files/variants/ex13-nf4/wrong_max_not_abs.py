# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def nf4_quantize(weight, code, block_size=64):
    blocks = weight.detach().reshape(-1, block_size)
    absmax = blocks.max(dim=1).values  # the largest value, not the largest magnitude
    scale = torch.where(absmax != 0, absmax, torch.ones_like(absmax))
    indices = ((blocks / scale[:, None])[..., None] - code).abs().argmin(dim=-1)
    return indices.reshape(-1), absmax
