# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def nf4_quantize(weight, code, block_size=64):
    blocks = weight.data.view(-1, block_size)
    absmax = blocks.abs().amax(dim=1)
    blocks /= torch.where(absmax > 0, absmax, torch.ones_like(absmax))[:, None]  # scales weight itself
    indices = (blocks[..., None] - code).abs().argmin(dim=-1)
    return indices.reshape(-1), absmax
