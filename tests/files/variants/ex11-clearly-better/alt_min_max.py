# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def clearly_better(a, b, metric="rouge1"):
    higher = a[metric] > b[metric]
    apart = min(a["ci95"][metric]) > max(b["ci95"][metric])
    return higher and apart
