# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q7 = "c"
q7_data = "c"
