# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def text_init(embedding, token_ids, n):
    ids = token_ids[:n] + [token_ids[0]] * max(0, n - len(token_ids))
    return embedding.weight[ids].detach().clone()
