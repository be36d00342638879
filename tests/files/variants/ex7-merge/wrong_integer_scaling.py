# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def merge_lora(weight, lora_A, lora_B, alpha, r):
    return weight + (alpha // r) * (lora_B @ lora_A)
