# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def nf4_quantize(weight, code, block_size=64):
    blocks = weight.detach().reshape(-1, block_size)
    absmax = blocks.abs().amax(dim=1)
    scaled = blocks / torch.where(absmax > 0, absmax, torch.ones_like(absmax))[:, None]
    # the last code not above the value: rounds down instead of to the nearest
    indices = torch.searchsorted(code, scaled.contiguous(), right=True) - 1
    return indices.clamp(0, len(code) - 1).reshape(-1), absmax
