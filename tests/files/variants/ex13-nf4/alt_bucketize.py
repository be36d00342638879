# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def nf4_quantize(weight, code, block_size=64):
    flat = weight.detach().reshape(-1, block_size)
    absmax = flat.abs().max(dim=1).values
    scaled = flat / absmax.clamp_min(torch.finfo(flat.dtype).tiny)[:, None]
    midpoints = (code[1:] + code[:-1]) / 2
    return torch.bucketize(scaled, midpoints).reshape(-1), absmax
