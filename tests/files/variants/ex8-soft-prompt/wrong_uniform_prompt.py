# ruff: noqa  (exercise variant: runs in a namespace prepared by tests/test_discrimination.py)
import torch
from torch import nn


class SoftPrompt(nn.Module):
    def __init__(self, n_virtual, embedding):
        super().__init__()
        self.embedding = embedding
        self.embedding.weight.requires_grad_(False)
        self.prompt = nn.Parameter(torch.rand(n_virtual, embedding.embedding_dim))  # rand, not randn

    def forward(self, input_ids, attention_mask, labels=None):
        batch, n = input_ids.shape[0], self.prompt.shape[0]
        embeds = torch.cat([self.prompt.expand(batch, -1, -1), self.embedding(input_ids)], 1)
        mask = torch.cat([attention_mask.new_ones(batch, n), attention_mask], 1)
        if labels is not None:
            labels = torch.cat([labels.new_full((batch, n), -100), labels], 1)
        return embeds, mask, labels
