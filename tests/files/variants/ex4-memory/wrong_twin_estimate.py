# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
from peftlab.memory import training_memory_estimate


def training_memory_gb(n_params, precision="fp32", activation_bytes=8):
    estimate = training_memory_estimate(n_params, precision=precision,
                                        activations=n_params * activation_bytes)
    return estimate.as_gb()
