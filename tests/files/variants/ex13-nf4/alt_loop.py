# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def nf4_quantize(weight, code, block_size=64):
    values = weight.detach().flatten().tolist()
    indices, scales = [], []
    for start in range(0, len(values), block_size):
        block = values[start:start + block_size]
        top = max(abs(v) for v in block)
        scales.append(top)
        for v in block:
            x = v / top if top else 0.0
            indices.append(min(range(len(code)), key=lambda i: abs(x - float(code[i]))))
    return torch.tensor(indices), torch.tensor(scales)
