# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def count_trainable(model):
    sizes = [(p.numel(), p.requires_grad) for p in model.parameters()]
    total = sum(n for n, _ in sizes)
    trainable = sum(n for n, grad in sizes if grad)
    return trainable, total, trainable * 100 / total
