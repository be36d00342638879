# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
from peft import LoraConfig


def lab_lora_config(r=32, alpha=32):
    """Every module whose last name is q or v: T5's query and value projections."""
    return LoraConfig(task_type="SEQ_2_SEQ_LM", r=r, lora_alpha=alpha, lora_dropout=0.05,
                      bias="none", target_modules=r".*\.(q|v)")
