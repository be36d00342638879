"""Soft-prompt interpretability: which vocabulary tokens each virtual token lies closest to."""

from __future__ import annotations


def nearest_tokens(vectors, embedding_matrix, tokenizer=None, k: int = 5):
    """Top-``k`` vocabulary neighbours of each vector by cosine similarity.

    Args:
        vectors: tensor (n, hidden), e.g. a soft prompt.
        embedding_matrix: tensor (vocab, hidden), the model's input embeddings.
        tokenizer: when given, token ids are decoded to strings.

    Returns:
        A list of ``n`` lists of ``(token, cosine)`` pairs (token ids without a tokenizer).
    """
    import torch.nn.functional as F

    sims = F.normalize(vectors.float(), dim=-1) @ F.normalize(embedding_matrix.float(), dim=-1).T
    values, ids = sims.topk(k, dim=-1)
    rows = []
    for row_ids, row_values in zip(ids.tolist(), values.tolist()):
        tokens = ([tokenizer.convert_ids_to_tokens(i) for i in row_ids] if tokenizer else row_ids)
        rows.append(list(zip(tokens, row_values)))
    return rows


def neighbour_table(vectors, embedding_matrix, tokenizer, k: int = 5):
    """A pandas table: one row per virtual token, its top-k neighbours and their cosines."""
    import pandas as pd

    rows = nearest_tokens(vectors, embedding_matrix, tokenizer, k)
    return pd.DataFrame([{"virtual token": i,
                          "nearest tokens": " ".join(t for t, _ in row),
                          "cosine (top 1)": round(row[0][1], 3)} for i, row in enumerate(rows)])
