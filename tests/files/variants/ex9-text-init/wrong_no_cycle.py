# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def text_init(embedding, token_ids, n):
    return embedding.weight[token_ids[:n]].detach().clone()
