# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q2_params = 4_608
q2_scaling = 4
q2_trained = "b"
