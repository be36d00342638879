# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def count_trainable(model):
    ps = [p for m in model.modules() for p in m.parameters(recurse=False)]
    total = sum(p.numel() for p in ps)
    t = sum(p.numel() for p in ps if p.requires_grad)
    return t, total, 100.0 * t / total
