# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch
from torch.nn import functional as F


def mixed_batch(token_embeds, attention_mask, tasks, prompts):
    names = list(prompts)
    table = torch.stack([prompts[name] for name in names])  # (tasks, n, hidden)
    soft = table[torch.tensor([names.index(task) for task in tasks])]
    return torch.cat([soft, token_embeds], dim=1), F.pad(attention_mask, (soft.shape[1], 0), value=1)
