# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
from peft import LoraConfig


def lab_lora_config(r=32, alpha=32):
    return LoraConfig(r=alpha, lora_alpha=r, lora_dropout=0.05, bias="none",
                      target_modules=["q", "v"], task_type="SEQ_2_SEQ_LM")
