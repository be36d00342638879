# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q9 = "b"
q9_tokens = 50
