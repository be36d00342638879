# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch


def mixed_batch(token_embeds, attention_mask, tasks, prompts):
    embeds, masks = [], []
    for task, prompt in prompts.items():  # one slice of the batch per task
        rows = [i for i, t in enumerate(tasks) if t == task]
        if not rows:
            continue
        soft = prompt.expand(len(rows), -1, -1)
        embeds.append(torch.cat([soft, token_embeds[rows]], 1))
        masks.append(torch.cat([attention_mask.new_ones(soft.shape[:2]), attention_mask[rows]], 1))
    return torch.cat(embeds), torch.cat(masks)
