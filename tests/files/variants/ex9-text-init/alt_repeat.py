# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def text_init(embedding, token_ids, n):
    reps = -(-n // len(token_ids))
    ids = torch.tensor(token_ids * reps)[:n]
    return embedding(ids).detach().clone()
