# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def training_memory_gb(n_params, precision="fp32", activation_bytes=8):
    width = 2 if precision == "mixed" else 4
    w = n_params * width / 1e9
    p = {"weights": w, "gradients": w, "master": n_params * 4 / 1e9 if precision == "mixed" else 0.0,
         "optimizer": 2 * w, "activations": n_params * activation_bytes / 1e9}
    p["total"] = sum(p.values())
    return p
