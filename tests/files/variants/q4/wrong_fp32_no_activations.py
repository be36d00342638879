# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q4_fp32_gb = 16
q4_gb = 32
q4_lora = "b"
q4_forgetting = "b"
