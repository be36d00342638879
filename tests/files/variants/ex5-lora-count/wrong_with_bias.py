# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def lora_param_count(d_out, d_in, r):
    return r * d_in + d_out * r + d_out  # B given a bias, like an nn.Linear
