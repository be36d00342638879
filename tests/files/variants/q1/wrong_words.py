# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q1 = {"lora": "reparameterization", "prompt_tuning": "additive", "bitfit": "selective", "prefix_tuning": "additive", "adapters": "additive"}
