# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q9 = "c"
q9_tokens = 20
