"""peftlab.training: tokenizing, dynamic padding, the causal fast path, train(), resume, evaluate CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import warnings

import pytest
import torch
from conftest import BUILDERS, TRAIN, cli_env, last_json

from peftlab.data import PROMPT_TEMPLATE, build_prompt
from peftlab.evaluation import load_adapter
from peftlab.methods import apply_method, count_parameters
from peftlab.training import IGNORE, PaddingCollator, encode_causal, last_label_loss, train

SUMMARY = "#Person1# and #Person2# plan a picnic for Saturday and agree to bring sandwiches."


def test_long_causal_example_keeps_its_summary(tiny_llama, mini):
    """When prompt + summary exceed max_length, is the dialogue cut and the summary kept whole?"""
    dialogue = "\n".join(mini["train"][i]["dialogue"] for i in range(3))
    tok = tiny_llama.tokenizer
    target = tok(SUMMARY, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    full = tok(build_prompt(dialogue), add_special_tokens=False)["input_ids"]
    max_length = 120
    assert len(full) + len(target) > 2 * max_length
    rec = encode_causal(tiny_llama, dialogue, SUMMARY, max_length, PROMPT_TEMPLATE)
    assert len(rec["input_ids"]) <= max_length
    assert len(rec["input_ids"]) >= max_length - 3  # cut at a token boundary, not far short
    n_prompt = len(rec["input_ids"]) - len(target)
    assert rec["input_ids"][n_prompt:] == target
    assert rec["labels"] == [IGNORE] * n_prompt + target
    prompt = tok.decode(rec["input_ids"][:n_prompt])
    assert prompt.startswith("Summarize the following conversation.") and prompt.endswith("\n\nSummary: ")
    kept = prompt.split("\n\n")[1]
    assert dialogue.startswith(kept) and len(kept) < len(dialogue) // 2


def test_short_causal_example_is_not_cut(tiny_llama):
    """Is an example that fits kept whole, with labels -100 exactly on the prompt?"""
    dialogue = "#Person1#: Picnic on Saturday?\n#Person2#: Yes, I'll bring sandwiches."
    rec = encode_causal(tiny_llama, dialogue, SUMMARY, 512, PROMPT_TEMPLATE)
    prompt = tiny_llama.tokenizer(build_prompt(dialogue), add_special_tokens=False)["input_ids"]
    assert rec["input_ids"][:len(prompt)] == prompt
    assert rec["labels"][:len(prompt)] == [IGNORE] * len(prompt)
    assert IGNORE not in rec["labels"][len(prompt):]


FEATURES = [{"input_ids": [5, 6, 7], "labels": [IGNORE, 6, 7]},
            {"input_ids": [8, 9, 10, 11, 12], "labels": [IGNORE, IGNORE, IGNORE, 11, 12]}]


def test_collator_pads_to_the_longest_example():
    """Is each batch padded only to its own longest example, on the requested side?"""
    right = PaddingCollator(pad_id=0, side="right")(FEATURES)
    assert right["input_ids"].tolist() == [[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]]
    assert right["labels"].tolist()[0] == [IGNORE, 6, 7, IGNORE, IGNORE]
    assert "position_ids" not in right
    left_collator = PaddingCollator(pad_id=0, side="left")
    left = left_collator(FEATURES)
    assert left["input_ids"].tolist() == [[0, 0, 5, 6, 7], [8, 9, 10, 11, 12]]
    assert left["attention_mask"].tolist()[0] == [0, 0, 1, 1, 1]
    assert left["position_ids"].tolist() == [[0, 0, 0, 1, 2], [0, 1, 2, 3, 4]]
    assert (left_collator.real_tokens, left_collator.padded_tokens) == (8, 10)
    seq2seq = PaddingCollator(pad_id=0, causal=False)(FEATURES[:1])
    assert seq2seq["input_ids"].shape == (1, 3)


@pytest.mark.parametrize("method", [None, "lora"])
def test_fast_path_loss_equals_the_standard_loss(tiny_llama, mini, method):
    """Does the left-padded, label-only-logits loss equal the model's own right-padded loss?"""
    if method:
        model = apply_method(tiny_llama, method)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "lora_B" in name:
                    param.normal_(0, 0.3)
    model = tiny_llama.model.eval()
    rows = [mini["train"][i] for i in (0, 5, 9)]
    features = [encode_causal(tiny_llama, r["dialogue"], r["summary"], 512, PROMPT_TEMPLATE)
                for r in rows]
    assert len({len(f["input_ids"]) for f in features}) == 3
    pad = tiny_llama.tokenizer.pad_token_id
    with torch.no_grad():
        fast = last_label_loss(model, PaddingCollator(pad, side="left")(features))
        right = PaddingCollator(pad, side="right")(features)
        standard = model(**right).loss
    assert torch.allclose(fast, standard, atol=1e-4), (fast.item(), standard.item())


@pytest.mark.parametrize("family", ["tiny-t5", "tiny-llama"])
def test_train_returns_history_and_costs(family, mini, tmp_path, capsys):
    """Does train() return the loss history and measured costs and write train_results.json
    (and does --resume without a checkpoint say so and start at step 0)?"""
    lab = BUILDERS[family]()
    result = train(lab, "lora", mini, max_steps=3, batch_size=4, limit=16, max_length=256,
                   output_dir=tmp_path, resume=True, progress=False)
    assert "no checkpoint" in capsys.readouterr().err and result.resumed_from is None
    assert result.global_step == 3 and [h["step"] for h in result.loss_history] == [1, 2, 3]
    assert result.final_loss == result.loss_history[-1]["loss"] > 0
    costs = result.costs
    assert costs.trainable_params == count_parameters(lab).trainable < costs.total_params
    assert costs.train_seconds > 0 and costs.real_tokens_per_second > 0
    assert 0 < costs.real_tokens <= costs.padded_tokens
    assert costs.peak_memory_bytes > 0 and costs.checkpoint_bytes > 0
    saved = json.loads((tmp_path / "train_results.json").read_text())
    assert saved["global_step"] == 3 and saved["costs"]["trainable_params"] == costs.trainable_params
    assert (tmp_path / "adapter_model.safetensors").exists()


def test_resume_after_kill(peftlab_bin, uninterrupted, tmp_path):
    """After kill -9 past a checkpoint, does --resume continue from it and end like an uninterrupted run?"""
    out = tmp_path / "run"
    proc = subprocess.Popen([peftlab_bin, *TRAIN, "--output", str(out)], env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not list(out.glob("checkpoint-*/trainer_state.json")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be interrupted"
    assert not (out / "train_results.json").exists()

    resumed = subprocess.run([peftlab_bin, *TRAIN, "--output", str(out), "--resume"],
                             capture_output=True, text=True, env=cli_env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {out}/checkpoint-" in resumed.stderr
    summary = last_json(resumed.stdout)
    assert summary["global_step"] == 12 and summary["resumed_from"]
    assert summary["final_loss"] == pytest.approx(uninterrupted[1]["final_loss"], rel=1e-4)


def test_named_adapter_checkpoint_size(tiny_t5, mini, tmp_path):
    """Is a named LoRA adapter's size on disk its weights, far smaller than the model's?"""
    from peftlab.memory import model_bytes

    apply_method(tiny_t5, "lora", adapter_name="summary")
    result = train(tiny_t5, "lora", mini, max_steps=1, batch_size=2, limit=2, progress=False,
                   output_dir=tmp_path / "named")
    saved = result.costs.checkpoint_bytes
    assert (tmp_path / "named" / "summary" / "adapter_model.safetensors").exists()
    assert 0 < saved < model_bytes(tiny_t5.model.get_base_model()) / 2


def test_length_grouped_batches_cut_padding():
    """Do length-grouped batches hold similar lengths, cover every example once, and repeat per seed?"""
    from peftlab.training import LengthGroupedBatches

    lengths = [(i * 37) % 500 + 20 for i in range(48)]
    sampler = LengthGroupedBatches(lengths, batch_size=8, seed=3)
    order = list(sampler)
    assert sorted(order) == list(range(48))

    def padding(indices):
        return sum(8 * max(lengths[i] for i in indices[k:k + 8]) for k in range(0, 48, 8)) - sum(lengths)

    assert padding(order) < padding(list(range(48))) / 3, "grouped batches need far less padding"
    assert list(LengthGroupedBatches(lengths, 8, seed=3)) == order
    sampler.set_epoch(1)
    assert list(sampler) != order, "each epoch gets a new order"


def test_training_with_checkpointing_prints_no_deprecation_note(mini, tmp_path):
    """Wrapping, training with activation checkpointing and reloading an adapter: does peftlab
    call transformers 5 by its current names, so a notebook's stderr shows no FutureWarning about
    ``gradient_checkpointing`` (ours, in TrainingArguments, or peft's read of the model)?"""
    lab = BUILDERS["tiny-llama"]()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(lab, "lora", mini, max_steps=1, batch_size=2, limit=4, max_length=128,
                       output_dir=tmp_path, gradient_checkpointing=True, progress=False)
        load_adapter(BUILDERS["tiny-llama"](), tmp_path)
    assert result.global_step == 1
    notes = [str(w.message) for w in caught if "checkpointing" in str(w.message)]
    assert notes == [], notes
