# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def nf4_quantize(weight, code, block_size=64):
    flat = weight.detach().reshape(-1)
    top = flat.abs().max()  # one scale for the whole tensor, not one per block
    scaled = flat / (top if top > 0 else 1.0)
    indices = (scaled[:, None] - code).abs().argmin(dim=1)
    return indices, top.repeat(flat.numel() // block_size)
