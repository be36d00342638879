# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
from peft import LoraConfig


def lab_lora_config(r=32, alpha=32):
    # the same count as q and v (both 768 x 768), but the key projection instead of the value
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.05, bias="none",
                      target_modules=["q", "k"], task_type="SEQ_2_SEQ_LM")
