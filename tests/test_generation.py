"""Batched greedy generation (peftlab.models.generate_batch) gives exactly the one-at-a-time output."""

from __future__ import annotations

import pytest
import torch

from peftlab.data import build_prompt
from peftlab.methods import apply_method

DIALOGUES = [
    "#Person1#: Tea?\n#Person2#: Please.",
    "#Person1#: Where is the bank? I need to deposit a cheque before the branch closes at five "
    "today.\n#Person2#: Next to the post office, past the bakery on the left.",
    "#Person1#: Did you finish?\n#Person2#: Yes, I did.",
    "#Person1#: The airport train leaves in ten minutes; do we still have time to buy coffee and a "
    "newspaper at the kiosk, or should we run to the platform now?\n#Person2#: Run. The coffee can "
    "wait until we land, and the newspaper will be on the plane anyway.",
    "#Person1#: Is the museum open on Mondays?\n#Person2#: No, only Tuesday to Sunday.",
]
PROMPTS = [build_prompt(d) for d in DIALOGUES]
NEW_TOKENS = 12


def _prepare(lab, method):
    """Apply the method with values that matter: LoRA B non-zero, a random soft prompt."""
    if method == "lora":
        model = apply_method(lab, "lora")
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "lora_B" in name:
                    param.normal_(0, 0.5)
    elif method == "prompt":
        apply_method(lab, "prompt", init="random", num_virtual_tokens=8)
    lab.model.eval()
    return lab


@pytest.mark.parametrize("method", [None, "lora", "prompt"])
def test_batched_equals_one_at_a_time(tiny_llama, method):
    """For the base, LoRA and prompt-tuned causal model, is a left-padded batch's greedy output
    the same as generating each prompt alone?"""
    lab = _prepare(tiny_llama, method)
    lengths = [len(lab.tokenizer(p)["input_ids"]) for p in PROMPTS]
    assert max(lengths) - min(lengths) > 20
    batched = lab.generate(PROMPTS, max_new_tokens=NEW_TOKENS, batch_size=len(PROMPTS))
    alone = lab.generate(PROMPTS, max_new_tokens=NEW_TOKENS, batch_size=1)
    assert batched == alone
    assert all(alone) and len(set(alone)) > 1


def test_batched_seq2seq_equals_one_at_a_time(tiny_t5):
    """For T5 (right-padded encoder input), is batched output the one-at-a-time output?"""
    tiny_t5.model.eval()
    assert (tiny_t5.generate(PROMPTS, max_new_tokens=NEW_TOKENS, batch_size=len(PROMPTS))
            == tiny_t5.generate(PROMPTS, max_new_tokens=NEW_TOKENS, batch_size=1))


@pytest.mark.filterwarnings("ignore:Position ids are not supported")
def test_naive_peft_batching_of_a_soft_prompt_differs(tiny_llama):
    """Does peft's own generate on a left-padded batch change a prompt-tuned model's output (the
    bug generate_batch avoids)?"""
    lab = _prepare(tiny_llama, "prompt")
    tok = lab.tokenizer
    alone = lab.generate(PROMPTS, max_new_tokens=NEW_TOKENS, batch_size=1)
    enc = tok(PROMPTS, add_special_tokens=False, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = lab.model.generate(**enc, max_new_tokens=NEW_TOKENS, do_sample=False, num_beams=1,
                                 pad_token_id=tok.pad_token_id)
    naive = [t.strip() for t in tok.batch_decode(out[:, enc["input_ids"].shape[1]:],
                                                   skip_special_tokens=True)]
    padded = [i for i, n in enumerate(enc["attention_mask"].sum(1).tolist())
              if n < enc["input_ids"].shape[1]]
    assert any(naive[i] != alone[i] for i in padded)


@pytest.mark.slow
def test_smollm2_soft_prompt_batched_equals_alone(mini, one_thread):
    """On real SmolLM2 with a text-initialised soft prompt, is batched output the unbatched output?"""
    from peftlab.models import SMOLLM2, load_model

    lab = load_model(SMOLLM2, device="cpu")
    apply_method(lab, "prompt", init="text", num_virtual_tokens=8)
    lab.model.eval()
    dialogues = mini["test"].select(range(6))["dialogue"]
    batched = lab.summarize(dialogues, max_new_tokens=20, batch_size=6)
    alone = lab.summarize(dialogues, max_new_tokens=20, batch_size=1)
    assert batched == alone
    assert all(len(text.split()) >= 3 for text in alone)
