# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def nf4_quantize(weight, code, block_size=64):
    blocks = weight.detach().reshape(-1, block_size)
    absmax = blocks.abs().amax(dim=1)
    scaled = blocks / torch.where(absmax > 0, absmax, torch.ones_like(absmax))[:, None]
    # 16 evenly spaced levels over [-1, 1] instead of the code book's values
    indices = torch.round((scaled + 1) / 2 * (len(code) - 1)).long()
    return indices.reshape(-1), absmax
