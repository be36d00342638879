# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def training_memory_gb(n_params, precision="fp32", activation_bytes=8):
    w, m = (2, 4) if precision == "mixed" else (4, 0)
    p = {"weights": n_params * w / 1e9, "gradients": n_params * w / 1e9,
         "master": n_params * m / 1e9, "optimizer": n_params * 8 / 1e9, "activations": 0.0}
    p["total"] = sum(p.values())
    return p
