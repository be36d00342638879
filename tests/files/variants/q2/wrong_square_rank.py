# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q2_params = 2 * 8 * 512
q2_scaling = 4.0
q2_trained = "b"
