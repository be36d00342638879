# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def training_memory_gb(n_params, precision="fp32", activation_bytes=8):
    w = n_params * (2 if precision == "mixed" else 4) / 1e9
    p = {"weights": w, "gradients": w, "master": w if precision == "mixed" else 0.0,
         "optimizer": n_params * 8 / 1e9, "activations": n_params * activation_bytes / 1e9}
    p["total"] = sum(p.values())
    return p
