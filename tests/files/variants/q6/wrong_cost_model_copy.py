# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q6 = "b"
q6_cost = "c"
