# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def count_trainable(model):
    seen = {}
    for _, p in model.named_parameters(remove_duplicate=False):
        seen[id(p)] = p
    total = sum(p.numel() for p in seen.values())
    t = sum(p.numel() for p in seen.values() if p.requires_grad)
    return (t, total, t / total * 100)
