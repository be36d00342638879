"""Batched greedy generation that gives the same text as one-at-a-time generation.

Causal models are padded on the left. peft's prompt tuning prepends the soft prompt *before* the
padding and drops position ids, so a short prompt in a padded batch sees its soft prompt at other
positions than when it runs alone. :func:`generate_batch` instead builds the input embeddings itself
as ``[padding, soft prompt, tokens]`` with position ids counted from the first real position, which
is exactly what the model saw in training (right padding there, so positions start at 0).
"""

from __future__ import annotations


def is_prompt_tuned(model) -> bool:
    """True for a peft model whose active adapter is prompt tuning."""
    config = getattr(model, "active_peft_config", None)
    return config is not None and str(getattr(config, "peft_type", "")).endswith("PROMPT_TUNING")


def generate_batch(lab, texts: list[str], max_new_tokens: int = 60) -> list[str]:
    """Greedy-decode one batch of already formatted prompts; returns the new text of each."""
    import torch

    tokenizer, model = lab.tokenizer, lab.model
    with torch.no_grad():
        if lab.family == "seq2seq":
            enc = tokenizer(texts, return_tensors="pt", padding=True, truncation=True,
                            max_length=lab.max_input_tokens).to(lab.device)
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1)
            return [t.strip() for t in tokenizer.batch_decode(out, skip_special_tokens=True)]
        enc = tokenizer(texts, add_special_tokens=False, truncation=True,
                        max_length=lab.max_input_tokens)
        if is_prompt_tuned(model):
            out = _generate_prompt_tuned(model, tokenizer, enc["input_ids"], max_new_tokens, lab.device)
        else:
            batch = tokenizer.pad(enc, return_tensors="pt", padding_side="left").to(lab.device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                 pad_token_id=tokenizer.pad_token_id)
            out = out[:, batch["input_ids"].shape[1]:]
    return [t.strip() for t in tokenizer.batch_decode(out, skip_special_tokens=True)]


def _generate_prompt_tuned(peft_model, tokenizer, input_ids: list[list[int]], max_new_tokens, device):
    base = peft_model.get_base_model()
    soft = peft_model.get_prompt(batch_size=1)[0]  # (n_virtual, hidden)
    embeds, mask = _soft_prompt_batch(base, tokenizer, input_ids, [soft] * len(input_ids), left=True)
    # generate() derives position ids from the attention mask (cumsum - 1), so the soft prompt
    # sits at positions 0..n_virtual-1 in every row, as in training.
    return base.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=max_new_tokens,
                         do_sample=False, num_beams=1, pad_token_id=tokenizer.pad_token_id)


def _soft_prompt_batch(base, tokenizer, input_ids: list[list[int]], soft_prompts: list, left: bool):
    """Input embeddings and attention mask of rows ``soft prompt + tokens``, padded to one width.

    ``left=True`` gives ``[padding, soft prompt, tokens]`` (causal generation); otherwise
    ``[soft prompt, tokens, padding]`` (an encoder's input).
    """
    import torch

    embed = base.get_input_embeddings()
    device = embed.weight.device
    width = max(len(ids) + len(soft) for ids, soft in zip(input_ids, soft_prompts))
    pad_vector = embed(torch.tensor([tokenizer.pad_token_id], device=device))[0]
    rows, masks = [], []
    with torch.no_grad():
        for ids, soft in zip(input_ids, soft_prompts):
            soft = soft.to(device, embed.weight.dtype)
            n_pad = width - len(ids) - soft.shape[0]
            body = torch.cat([soft, embed(torch.tensor(ids, device=device))])
            pad = pad_vector.expand(n_pad, -1)
            ones = [1] * (len(ids) + soft.shape[0])
            rows.append(torch.cat([pad, body]) if left else torch.cat([body, pad]))
            masks.append([0] * n_pad + ones if left else ones + [0] * n_pad)
    return torch.stack(rows), torch.tensor(masks, device=device)


def generate_mixed(lab, prompts: list[str], soft_prompts: list, max_new_tokens: int = 60) -> list[str]:
    """One batch, one frozen model, a different soft prompt per row (multi-task serving).

    Args:
        lab: a LabModel whose ``model`` is the frozen base model (no peft wrapper needed).
        prompts: ready prompts, one per row (chat-wrapped here for instruct models).
        soft_prompts: one tensor (n_virtual_i, hidden) per row; lengths may differ.

    Returns the new text of each row. Causal rows are ``[padding, soft prompt, tokens]`` with position
    ids from the mask; seq2seq rows are ``[soft prompt, tokens, padding]`` for the encoder.
    """
    import torch

    tokenizer = lab.tokenizer
    base = lab.model.get_base_model() if hasattr(lab.model, "get_base_model") else lab.model
    texts = [lab.format_prompt(p) for p in prompts]
    seq2seq = lab.family == "seq2seq"
    ids = tokenizer(texts, add_special_tokens=seq2seq, truncation=True,
                    max_length=lab.max_input_tokens)["input_ids"]
    embeds, mask = _soft_prompt_batch(base, tokenizer, ids, soft_prompts, left=not seq2seq)
    with torch.no_grad():
        out = base.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=max_new_tokens,
                            do_sample=False, num_beams=1, pad_token_id=tokenizer.pad_token_id)
    return [t.strip() for t in tokenizer.batch_decode(out, skip_special_tokens=True)]
