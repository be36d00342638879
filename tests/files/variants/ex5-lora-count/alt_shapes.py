# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
def lora_param_count(d_out, d_in, r):
    shapes = [(r, d_in), (d_out, r)]  # A, B
    return sum(rows * cols for rows, cols in shapes)
