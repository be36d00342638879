# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def count_trainable(model):
    # keep_vars=True keeps the Parameters (and requires_grad); dedupe tied tensors by identity
    unique = {id(t): t for t in model.state_dict(keep_vars=True).values()}
    total = sum(t.numel() for t in unique.values())
    t = sum(v.numel() for v in unique.values() if v.requires_grad)
    return t, total, 100 * t / total
