# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q8 = "a"
q8_fix = "c"
