# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
from peftlab.methods import count_parameters


def count_trainable(model):
    counted = count_parameters(model)
    return counted.trainable, counted.total, counted.percent
