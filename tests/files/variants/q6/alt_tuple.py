# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q6, q6_cost = "b", "b"
