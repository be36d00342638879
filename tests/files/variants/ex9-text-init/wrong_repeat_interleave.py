# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def text_init(embedding, token_ids, n):
    ids = torch.tensor(token_ids)
    times = -(-n // len(token_ids))  # enough copies of each id
    return embedding.weight.detach()[ids.repeat_interleave(times)[:n]].clone()
