# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def lora_param_count(d_out, d_in, r):
    return 2 * r * d_out
