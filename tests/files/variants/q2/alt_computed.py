# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
d_out, d_in, r, alpha = 512, 64, 8, 32
q2_params = r * (d_in + d_out)
q2_scaling = float(alpha // r)
q2_trained = "B".lower()
