"""Shared fixtures and helpers of the package tests: tiny random models (seconds on a CPU), the
embedded sample, and the CLI run as a subprocess.

``apply_method`` mutates the LabModel it gets, so model fixtures build a fresh model per test; the
session-scoped fixtures (``mini``, ``uninterrupted``) are only read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_tiny_llama(seed: int = 0):
    """A 2-layer random Llama with the sample tokenizer and no chat template (plain prompts).

    ``initializer_range=0.1`` (not Llama's 0.02) makes attention sharp enough that positions and
    padding visibly change the logits, so batching bugs are not hidden by near-uniform attention.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from peftlab.models import _wrap, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, initializer_range=0.1,
                         pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=None, eos_token_id=tokenizer.eos_token_id)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = None
    model.eval()
    return _wrap(model, tokenizer, "tiny-llama")


def build_tiny_t5():
    """peftlab's tiny random T5 (seed 0), as ``load_model("tiny-t5")`` gives it."""
    from peftlab.models import load_model

    return load_model("tiny-t5", device="cpu")


BUILDERS = {"tiny-t5": build_tiny_t5, "tiny-llama": build_tiny_llama}


@pytest.fixture(params=sorted(BUILDERS))
def tiny_lab(request):
    """A fresh tiny LabModel, once per family (seq2seq T5, causal Llama)."""
    return BUILDERS[request.param]()


@pytest.fixture
def tiny_llama():
    return build_tiny_llama()


@pytest.fixture
def tiny_t5():
    return build_tiny_t5()


@pytest.fixture
def one_thread():
    """Run torch on one thread: on small CPUs shared with other jobs, OpenMP threads competing with
    other processes made SmolLM2 generation 3-6x slower than one thread (measured on 2 cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def mini():
    """The embedded sample as a DatasetDict (read-only)."""
    from peftlab.data import load_dialogsum

    return load_dialogsum("dialogsum-mini")


@pytest.fixture(scope="session")
def peftlab_bin():
    """The installed console script, next to the interpreter running the tests."""
    import shutil
    import sys
    from pathlib import Path

    here = Path(sys.executable).parent / "peftlab"
    found = str(here) if here.exists() else shutil.which("peftlab")
    if not found:
        pytest.skip("the peftlab console script is not installed")
    return found


def cli_env(**extra) -> dict:
    """Environment for CLI subprocesses: offline, one thread (see ``one_thread``)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


TEXTS = ["#Person1#: Where is the bank?\n#Person2#: Next to the post office.",
         "#Person1#: Did you finish the report for the manager yesterday evening?\n#Person2#: Yes."]


def batch_for(lab, texts: list[str] = TEXTS) -> dict:
    """A padded batch with labels for a forward pass of either family.

    Seq2seq: a short target as labels; causal: the input itself (padding ignored).
    """
    tok = lab.tokenizer
    enc = tok(texts, return_tensors="pt", padding=True)
    batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    if lab.family == "seq2seq":
        labels = tok(["A person asks for directions."] * len(texts), return_tensors="pt",
                     padding=True)["input_ids"]
        labels[labels == tok.pad_token_id] = -100
    else:
        labels = enc["input_ids"].clone()
        labels[enc["attention_mask"] == 0] = -100
    batch["labels"] = labels
    return batch


TRAIN = ["train", "--model", "tiny-t5", "--method", "lora", "--max-steps", "12", "--save-steps", "4"]


def last_json(stdout: str) -> dict:
    """The CLI's summary: the last stdout line, as JSON."""
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def uninterrupted(peftlab_bin, tmp_path_factory):
    """A 12-step CLI training run of tiny-t5 with LoRA, never interrupted: (folder, summary)."""
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    proc = subprocess.run([peftlab_bin, *TRAIN, "--output", str(out)], capture_output=True,
                          text=True, env=cli_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, last_json(proc.stdout)


def run_course(root, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """``peftlab course ARGS`` in a scratch course root (``PEFTLAB_COURSE_ROOT``), offline."""
    env = dict(os.environ, PEFTLAB_COURSE_ROOT=str(root), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "peftlab.grading", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)

