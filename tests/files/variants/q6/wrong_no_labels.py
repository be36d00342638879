# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q6 = "c"
q6_cost = "b"
