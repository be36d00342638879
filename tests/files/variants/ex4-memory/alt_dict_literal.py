# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def training_memory_gb(n_params, precision="fp32", activation_bytes=8):
    gb = lambda nbytes: nbytes * n_params / 1_000_000_000
    w = gb(2 if precision == "mixed" else 4)
    m = gb(4) if precision == "mixed" else 0.0
    o, a = gb(8), gb(activation_bytes)
    return dict(weights=w, gradients=w, master=m, optimizer=o, activations=a, total=2 * w + m + o + a)
