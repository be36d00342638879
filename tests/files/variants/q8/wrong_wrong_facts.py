# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q8 = "c"
q8_fix = "b"
