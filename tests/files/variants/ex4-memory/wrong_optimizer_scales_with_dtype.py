# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def training_memory_gb(n_params, bytes_per_param=4):
    w = n_params * bytes_per_param / 1e9
    p = {"weights": w, "gradients": w, "optimizer": 2 * w, "activations": 2 * w}
    p["total"] = sum(p.values())
    return p
