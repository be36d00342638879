# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def clearly_better(a, b, metric="rouge1"):
    return a["rouge1"] > b["rouge1"] and a["ci95"]["rouge1"][0] > b["ci95"]["rouge1"][1]
