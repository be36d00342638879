# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def mixed_batch(token_embeds, attention_mask, tasks, prompts):
    soft = torch.stack([prompts[t] for t in tasks])
    zeros = torch.zeros(soft.shape[:2], dtype=attention_mask.dtype)
    return torch.cat([soft, token_embeds], 1), torch.cat([zeros, attention_mask], 1)
