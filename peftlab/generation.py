"""Multi-task serving: one frozen model, one batch, a different soft prompt per row.

A soft prompt only changes a model's input, so rows of one batch can each carry their own task's
soft prompt. The rows are built by :func:`peftlab.models.soft_prompt_batch`, the same builder that
makes a prompt-tuned model's batched output equal its one-at-a-time output.
"""

from __future__ import annotations

from peftlab.models import soft_prompt_batch


def generate_mixed(lab, prompts: list[str], soft_prompts: list, max_new_tokens: int = 60) -> list[str]:
    """Greedy-decode one batch whose rows each carry their own soft prompt.

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
    embeds, mask = soft_prompt_batch(base, tokenizer, ids, soft_prompts, left=not seq2seq)
    with torch.no_grad():
        out = base.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=max_new_tokens,
                            do_sample=False, num_beams=1, pad_token_id=tokenizer.pad_token_id)
    return [t.strip() for t in tokenizer.batch_decode(out, skip_special_tokens=True)]
