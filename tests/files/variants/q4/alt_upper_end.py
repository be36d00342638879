# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q4_fp32_gb = 24.0
q4_gb = 2 * 20  # 20x the 16-bit weights, the high end
q4_lora = "b"
q4_forgetting = "b"
