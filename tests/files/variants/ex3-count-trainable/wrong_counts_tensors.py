# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def count_trainable(model):
    ps = list(model.parameters())
    t = sum(1 for p in ps if p.requires_grad)
    return t, len(ps), 100.0 * t / len(ps)
