# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def nf4_quantize(weight, code, block_size=64):
    # blocks down the columns (the transposed weight), not along the flattened rows
    blocks = weight.detach().t().reshape(-1, block_size)
    absmax = blocks.abs().amax(dim=1)
    scaled = blocks / torch.where(absmax > 0, absmax, torch.ones_like(absmax))[:, None]
    indices = (scaled[..., None] - code).abs().argmin(dim=-1)
    return indices.reshape(-1), absmax
