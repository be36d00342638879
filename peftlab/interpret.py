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

    if tokenizer is not None:  # rows past the tokenizer's vocabulary are padding (FLAN-T5: 28)
        embedding_matrix = embedding_matrix[:len(tokenizer)]
    sims = F.normalize(vectors.float(), dim=-1) @ F.normalize(embedding_matrix.float(), dim=-1).T
    values, ids = sims.topk(k, dim=-1)
    rows = []
    for row_ids, row_values in zip(ids.tolist(), values.tolist()):
        tokens = ([tokenizer.convert_ids_to_tokens(i) for i in row_ids] if tokenizer else row_ids)
        rows.append(list(zip(tokens, row_values)))
    return rows


def neighbour_table(vectors, embedding_matrix, tokenizer, k: int = 5, start=None):
    """A pandas table: one row per virtual token, its top-k neighbours and their cosines.

    Args:
        start: the same virtual tokens before training (n, hidden); when given, a column says how
            far each one moved (cosine to its start). Tensors may live on any device.
    """
    import pandas as pd
    import torch.nn.functional as F

    rows = nearest_tokens(vectors, embedding_matrix, tokenizer, k)
    table = pd.DataFrame([{"virtual token": i,
                           "nearest tokens": " ".join(t for t, _ in row),
                           "cosine (top 1)": round(row[0][1], 3)} for i, row in enumerate(rows)])
    if start is not None:
        moved = F.cosine_similarity(vectors.float(), start.float().to(vectors.device), dim=-1)
        table["cosine to its start"] = [round(v, 3) for v in moved.tolist()]
    return table
