# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q4_gb = 2 * 12
q4_forgetting = "b"
