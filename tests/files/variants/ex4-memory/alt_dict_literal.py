# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def training_memory_gb(n_params, bytes_per_param=4):
    gb = lambda nbytes: nbytes * n_params / 1_000_000_000
    w, g, o, a = gb(bytes_per_param), gb(bytes_per_param), gb(8), gb(8)
    return dict(weights=w, gradients=g, optimizer=o, activations=a, total=w + g + o + a)
