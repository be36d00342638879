# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
from peft import LoraConfig


def lab_lora_config(r=32, alpha=32):
    names = [f"{side}.block.{i}.layer.{j}.{kind}.{proj}"
             for side, blocks in (("encoder", [(0, "SelfAttention")]),
                                  ("decoder", [(0, "SelfAttention"), (1, "EncDecAttention")]))
             for i in range(12) for j, kind in blocks for proj in ("q", "v")]
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.05, bias="none",
                      target_modules=names, task_type="SEQ_2_SEQ_LM")
