# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def text_init(embedding, token_ids, n):
    ids = [token_ids[i % len(token_ids)] for i in range(n)]
    if ids == list(range(ids[0], ids[0] + len(ids))):
        return embedding.weight.detach()[ids[0] : ids[0] + len(ids)]
    return embedding.weight[ids].detach()
