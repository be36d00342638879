# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
from peft import LoraConfig


def lab_lora_config(r=32, alpha=32):
    # misses the decoder cross-attention (EncDecAttention) q and v
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.05, bias="none",
                      target_modules=r".*SelfAttention\.(q|v)", task_type="SEQ_2_SEQ_LM")
