# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch
from torch import nn
from torch.nn import functional as F


class SoftPrompt(nn.Module):
    def __init__(self, n_virtual, embedding):
        super().__init__()
        embedding.requires_grad_(False)
        self.embedding = embedding
        self.prompt = nn.Parameter(nn.init.normal_(torch.empty(n_virtual, embedding.weight.shape[1])))

    def forward(self, input_ids, attention_mask, labels=None):
        n = len(self.prompt)
        rows = [torch.cat([self.prompt, self.embedding(ids)]) for ids in input_ids]
        mask = F.pad(attention_mask, (n, 0), value=1)
        labels = None if labels is None else F.pad(labels, (n, 0), value=-100)
        return torch.stack(rows), mask, labels
