# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def training_memory_gb(n_params, precision="fp32", activation_bytes=8):
    # the old lesson: mixed precision halves weights and gradients, nothing else
    w = n_params * (2 if precision == "mixed" else 4) / 1e9
    p = {"weights": w, "gradients": w, "master": 0.0, "optimizer": n_params * 8 / 1e9,
         "activations": n_params * activation_bytes / 1e9}
    p["total"] = sum(p.values())
    return p
