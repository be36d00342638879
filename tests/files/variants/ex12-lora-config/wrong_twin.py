# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
from peftlab.methods.lora import lab_t5_config as lab_lora_config
