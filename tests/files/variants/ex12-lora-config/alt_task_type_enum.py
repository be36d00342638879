# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
from peft import LoraConfig, TaskType


def lab_lora_config(r=32, alpha=32):
    settings = {"r": r, "lora_alpha": alpha, "lora_dropout": 0.05, "bias": "none",
                "target_modules": ("v", "q"), "task_type": TaskType.SEQ_2_SEQ_LM}
    return LoraConfig(**settings)
