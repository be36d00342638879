# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def mixed_batch(token_embeds, attention_mask, tasks, prompts):
    soft = prompts[tasks[0]].expand(len(tasks), -1, -1)
    ones = torch.ones(soft.shape[:2], dtype=attention_mask.dtype)
    return torch.cat([soft, token_embeds], 1), torch.cat([ones, attention_mask], 1)
