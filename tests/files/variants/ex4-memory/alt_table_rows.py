# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
TABLE = {
    "fp32": {"weights": 4, "gradients": 4, "master": 0, "optimizer": 8},
    "mixed": {"weights": 2, "gradients": 2, "master": 4, "optimizer": 8},
}


def training_memory_gb(n_params, precision="fp32", activation_bytes=8):
    row = dict(TABLE[precision], activations=activation_bytes)
    out = {k: n_params * b / 10**9 for k, b in row.items()}
    out["total"] = n_params * sum(row.values()) / 10**9
    return out
