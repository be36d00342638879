# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q10, q10_smallest = "b", "b"
