# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q3 = "B".lower()
q3_params = 20 * 512.0
q3_scale = "c"
