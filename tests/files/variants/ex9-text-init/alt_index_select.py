# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def text_init(embedding, token_ids, n):
    ids = torch.as_tensor(token_ids)[torch.arange(n) % len(token_ids)]
    return embedding.weight.detach().index_select(0, ids)
