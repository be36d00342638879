# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch

from peftlab.methods import lora
from peftlab.models import build_flan_t5_base_shape


def lab_lora_config(r=32, alpha=32):
    with torch.device("meta"):
        model = build_flan_t5_base_shape().model
    return lora.peft_config(model, lora.Config(r=r, alpha=alpha))
