# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def training_memory_gb(n_params, bytes_per_param=4):
    g = 2**30
    p = {
        "weights": n_params * bytes_per_param / g,
        "gradients": n_params * bytes_per_param / g,
        "optimizer": n_params * 8 / g,
        "activations": n_params * 8 / g,
    }
    p["total"] = sum(p.values())
    return p
