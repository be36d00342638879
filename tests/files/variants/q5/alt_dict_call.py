# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
q5_rouge = dict(rouge1="a", rouge2="b", rougeL="c")
q5_bleu = "b"
q5_merge = "b"
