# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q4_fp32_gb = 1e9 * 24 / 2**30
q4_gb = 2 * 12
q4_lora = "b"
q4_forgetting = "b"
