# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def nf4_quantize(weight, code, block_size=64):
    blocks = weight.detach().reshape(-1, 64)  # ignores block_size
    absmax = blocks.abs().amax(dim=1)
    scaled = blocks / torch.where(absmax > 0, absmax, torch.ones_like(absmax))[:, None]
    indices = (scaled[..., None] - code).abs().argmin(dim=-1)
    return indices.reshape(-1), absmax
