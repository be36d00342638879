# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def training_memory_gb(n_params, precision="fp32", activation_bytes=8):
    g = 2**30
    w, m = (2, 4) if precision == "mixed" else (4, 0)
    p = {"weights": n_params * w / g, "gradients": n_params * w / g, "master": n_params * m / g,
         "optimizer": n_params * 8 / g, "activations": n_params * activation_bytes / g}
    p["total"] = sum(p.values())
    return p
