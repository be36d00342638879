# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def mixed_batch(token_embeds, attention_mask, tasks, prompts):
    rows, masks = [], []
    for i, task in enumerate(tasks):
        p = prompts[task]
        rows.append(torch.cat([p, token_embeds[i]]))
        masks.append(torch.cat([attention_mask.new_ones(p.shape[0]), attention_mask[i]]))
    return torch.stack(rows), torch.stack(masks)
