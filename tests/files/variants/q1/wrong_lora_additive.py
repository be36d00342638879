# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q1 = {"lora": "c", "prompt_tuning": "c", "bitfit": "a", "prefix_tuning": "c", "adapters": "c"}
