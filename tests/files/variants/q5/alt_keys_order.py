# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q5_rouge = {"rougeL": "c", "rouge2": "b", "rouge1": "a"}
q5_bleu = "b"
q5_merge = "b"
