# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
classes = {"a": ["bitfit"], "b": ["lora"], "c": ["prompt_tuning", "prefix_tuning", "adapters"]}
q1 = {method: letter for letter, methods in classes.items() for method in methods}
