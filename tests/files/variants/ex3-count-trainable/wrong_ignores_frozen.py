# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def count_trainable(model):
    total = sum(p.numel() for p in model.parameters())
    return total, total, 100.0
