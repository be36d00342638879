# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q1 = {"lora": "b", "prompt_tuning": "a", "bitfit": "a", "prefix_tuning": "c", "adapters": "c"}
