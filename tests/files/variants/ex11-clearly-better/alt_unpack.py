# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def clearly_better(a, b, metric="rouge1"):
    a_low, _ = a["ci95"][metric]
    _, b_high = b["ci95"][metric]
    return bool(a_low > b_high) and bool(a[metric] > b[metric])
