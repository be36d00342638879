# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q1 = dict(zip(["bitfit", "lora", "prompt_tuning", "prefix_tuning", "adapters"], "ABCCC".lower()))
