# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q6 = "B".lower()
q6_cost = "b"
