# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q2_params = 4608
q2_scaling = 4.0
q2_trained = "c"
