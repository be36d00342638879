# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def clearly_better(a, b, metric="rouge1"):
    return a[metric] > b[metric] and a["ci95"][metric][0] >= b["ci95"][metric][1]
