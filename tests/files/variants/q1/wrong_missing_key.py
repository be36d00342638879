# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q1 = {"lora": "b", "prompt_tuning": "c", "bitfit": "a", "prefix_tuning": "c"}
