# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q3 = "b"
q3_params = 10240
q3_scale = "d"
