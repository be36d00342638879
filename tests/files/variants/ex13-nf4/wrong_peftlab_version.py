# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
from peftlab.quantization import quantize_blockwise


def nf4_quantize(weight, code, block_size=64):
    return quantize_blockwise(weight, code, block_size)
