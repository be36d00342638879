# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def training_memory_gb(n_params, bytes_per_param=4):
    p = {
        "weights": n_params * bytes_per_param / 1e9,
        "gradients": n_params * bytes_per_param / 1e9,
        "optimizer": n_params * 8 / 1e9,
        "activations": 0.0,
    }
    p["total"] = sum(p.values())
    return p
