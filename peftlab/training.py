"""Training on the Hugging Face Trainer, built for speed on small machines.

What makes it faster than the lab's recipe (padding every example to 512 tokens):

* **dynamic padding** to the longest example of each batch, and **length-grouped batches**
  (``group_by_length``) so those batches hold examples of similar length;
* for causal models whose method feeds them plain tokens (its ``INPUTS``: full, LoRA, LN tuning),
  **left padding with explicit position ids** so every summary ends at the right edge of the batch,
  and the vocabulary projection (49k columns for SmolLM2) runs only over the last positions that
  carry a label (``logits_to_keep``) instead of the whole sequence; the loss is the same token-level
  cross-entropy.

Causal examples are ``chat(prompt(dialogue)) + summary + eos`` with labels on the summary only; when
an example is longer than ``max_length`` the *dialogue* is cut, never the summary. :func:`train`
returns a :class:`TrainResult` whose ``costs`` (:class:`RunCosts`) say what the run took, and saves
what the method trains with the ``peftlab.json`` that :func:`~peftlab.evaluation.load_adapter` reads.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from peftlab.data import MAX_LENGTH, TEMPLATES, build_prompt, load_dialogsum
from peftlab.errors import PeftlabError
from peftlab.memory import StepMemory
from peftlab.methods import SavedRun, apply_method, count_parameters, get_method
from peftlab.models import InputKind, LabModel, load_model

IGNORE = -100  # the label of positions the loss skips (the prompt, padding)


@dataclass
class RunCosts:
    """What a training run cost, as measured.

    Attributes:
        trainable_params / total_params / trainable_percent: parameter counts of the trained model.
        train_seconds: wall time of the Trainer's loop.
        examples_per_second: training examples per second (steps run x batch size).
        real_tokens / padded_tokens: tokens of the examples, and of the batches with their padding.
        real_tokens_per_second: real tokens per second, the speed that padding cannot inflate.
        padding_fraction: share of the batches' tokens that were padding.
        peak_memory_bytes / peak_memory_kind: the whole process's peak while training (see
            :class:`~peftlab.memory.PeakMemory`); on CPU it includes every model loaded so far,
            so it does not compare methods.
        step_memory: one training step of this run split into weights, gradients, optimizer
            state (counted from the tensors) and activations (measured), on a batch of the run's
            size (:func:`~peftlab.memory.training_step_memory`); the figure that compares
            methods. ``None`` when the run took no step.
        device: where it ran (``cpu``, ``cuda:0``).
        precision: ``bf16`` (autocast, on CUDA with bf16 units) or ``fp32``.
        examples_seen: training examples the optimizer steps consumed (steps x global batch); the
            comparison's "examples" column, equal for every method trained on the same budget.
        checkpoint_bytes: size on disk of the saved weights (None when nothing was saved).
    """

    trainable_params: int
    total_params: int
    trainable_percent: float
    train_seconds: float
    examples_per_second: float
    real_tokens: int
    padded_tokens: int
    real_tokens_per_second: float
    padding_fraction: float
    peak_memory_bytes: int
    peak_memory_kind: str
    device: str
    precision: str = "fp32"
    examples_seen: int = 0
    checkpoint_bytes: int | None = None
    step_memory: StepMemory | None = None


@dataclass
class TrainResult:
    """What :func:`train` returns (and writes to ``output_dir/train_results.json``)."""

    method: str
    model_name: str
    global_step: int
    final_loss: float
    loss_history: list[dict]
    costs: RunCosts
    output_dir: str | None = None
    resumed_from: str | None = None
    lab: object = field(default=None, repr=False)

    def to_json(self) -> dict:
        """Everything but the trained model, as JSON-ready values."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "lab"}
        data["costs"] = dataclasses.asdict(self.costs)
        return data


# ---------------------------------------------------------------------------------- tokenizing


def _cut_dialogue(tokenizer, dialogue: str, n_tokens: int) -> str:
    """The dialogue's text cut to its first ``n_tokens`` tokens (at a token boundary)."""
    if n_tokens <= 0:
        return ""
    enc = tokenizer(dialogue, add_special_tokens=False, return_offsets_mapping=True)
    if len(enc["input_ids"]) <= n_tokens:
        return dialogue
    return dialogue[: enc["offset_mapping"][n_tokens - 1][1]]


def encode_causal(lab, dialogue: str, target: str, max_length: int, template: str) -> dict:
    """Token ids and labels of one causal example; the dialogue is cut to fit, the target never.

    Returns:
        ``{"input_ids": [...], "labels": [...]}`` with labels ``-100`` on the prompt.
    """
    tokenizer = lab.tokenizer
    target_ids = tokenizer(target.strip(), add_special_tokens=False)["input_ids"]
    target_ids = target_ids + [tokenizer.eos_token_id]

    def prompt_ids(text: str) -> list[int]:
        formatted = lab.format_prompt(build_prompt(text, template))
        return tokenizer(formatted, add_special_tokens=False)["input_ids"]

    ids = prompt_ids(dialogue)
    overflow = len(ids) + len(target_ids) - max_length
    if overflow > 0:
        n_dialogue = len(tokenizer(dialogue, add_special_tokens=False)["input_ids"])
        keep = n_dialogue - overflow
        while True:  # re-tokenising the cut text can differ by a token at the boundary
            ids = prompt_ids(_cut_dialogue(tokenizer, dialogue, keep))
            if len(ids) + len(target_ids) <= max_length or keep <= 0:
                break
            keep -= 1
    return {"input_ids": ids + target_ids, "labels": [IGNORE] * len(ids) + target_ids}


def encode_seq2seq(lab, dialogue: str, target: str, max_length: int, template: str,
                   max_target_length: int = 128) -> dict:
    """Encoder ids of the prompt (truncated) and label ids of the target."""
    tokenizer = lab.tokenizer
    ids = tokenizer(build_prompt(dialogue, template), truncation=True, max_length=max_length)["input_ids"]
    labels = tokenizer(target.strip(), truncation=True, max_length=max_target_length)["input_ids"]
    return {"input_ids": ids, "labels": labels}


def tokenize_split(lab, rows, task: str = "summary", max_length: int = MAX_LENGTH):
    """Tokenize a split for training; returns a ``datasets.Dataset`` with a ``length`` column."""
    from datasets import Dataset

    template = TEMPLATES[task]
    encode = encode_causal if lab.family == "causal" else encode_seq2seq
    records = []
    for row in rows:
        rec = encode(lab, row["dialogue"], row[task], max_length, template)
        rec["length"] = len(rec["input_ids"])
        records.append(rec)
    return Dataset.from_list(records)


# ------------------------------------------------------------------------------------ batching


class PaddingCollator:
    """Pads each batch to its own longest example and counts real vs padded tokens.

    Args:
        pad_id: the tokenizer's pad id.
        side: ``"left"`` (causal fast path, with position ids) or ``"right"``.
        causal: build ``attention_mask``/``position_ids`` for one sequence; else encoder inputs and
            labels padded separately (seq2seq).
        fixed_length: pad to this length instead (the lab's recipe, for benchmarks).
    """

    def __init__(self, pad_id: int, side: str = "right", causal: bool = True,
                 fixed_length: int | None = None):
        self.pad_id, self.side, self.causal, self.fixed_length = pad_id, side, causal, fixed_length
        self.real_tokens = 0
        self.padded_tokens = 0

    def _pad(self, seqs, value, width):
        if self.side == "left":
            return [[value] * (width - len(s)) + list(s) for s in seqs]
        return [list(s) + [value] * (width - len(s)) for s in seqs]

    def __call__(self, features):
        import torch

        ids = [f["input_ids"] for f in features]
        labels = [f["labels"] for f in features]
        width = self.fixed_length or max(len(s) for s in ids)
        if self.causal:
            self.real_tokens += sum(len(s) for s in ids)
            self.padded_tokens += width * len(ids)
            mask = self._pad([[1] * len(s) for s in ids], 0, width)
            batch = {"input_ids": torch.tensor(self._pad(ids, self.pad_id, width)),
                     "attention_mask": torch.tensor(mask),
                     "labels": torch.tensor(self._pad(labels, IGNORE, width))}
            if self.side == "left":
                positions = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
                batch["position_ids"] = positions
            return batch
        label_width = max(len(s) for s in labels)
        self.real_tokens += sum(len(s) for s in ids) + sum(len(s) for s in labels)
        self.padded_tokens += (width + label_width) * len(ids)
        return {"input_ids": torch.tensor(self._pad(ids, self.pad_id, width)),
                "attention_mask": torch.tensor(self._pad([[1] * len(s) for s in ids], 0, width)),
                "labels": torch.tensor(self._pad(labels, IGNORE, label_width))}


class LengthGroupedBatches:
    """A sampler whose batches hold examples of similar length, in random order.

    The indices are shuffled, cut into megabatches of ``mega`` batches, each megabatch is sorted by
    length and cut into batches, and the batches are shuffled. (transformers' own length grouping
    uses megabatches of only ``len // (4 * batch_size)`` batches, so on a few hundred examples it
    barely groups at all.) Deterministic per ``seed`` and epoch, so a resumed run sees the same order.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 0, mega: int = 50):
        self.lengths, self.batch_size, self.seed, self.mega = list(lengths), batch_size, seed, mega
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        import torch

        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        size = self.mega * self.batch_size
        batches = []
        for start in range(0, len(order), size):
            mega = sorted(order[start:start + size], key=lambda i: self.lengths[i])
            batches += [mega[i:i + self.batch_size] for i in range(0, len(mega), self.batch_size)]
        for b in torch.randperm(len(batches), generator=generator).tolist():
            yield from batches[b]


def last_label_loss(model, batch):
    """Causal LM loss computing logits only where labels exist (they sit at the right edge).

    With left padding every label lies in the last ``K`` positions of the batch; the vocabulary
    projection runs for those positions only, then the usual shifted token cross-entropy.
    """
    import torch.nn.functional as F

    labels = batch["labels"]
    has_label = (labels != IGNORE).any(dim=0).nonzero()
    first = int(has_label[0]) if len(has_label) else labels.shape[1] - 1
    keep = labels.shape[1] - first + 1  # logits at first-1 .. end predict tokens first .. end
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                position_ids=batch["position_ids"], logits_to_keep=keep)
    logits = out.logits[:, :-1, :]
    target = labels[:, first:]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1),
                           ignore_index=IGNORE)


def uses_fast_path(lab, method: str | None = None) -> bool:
    """Left padding + logits only on labels: causal models whose method feeds them plain tokens.

    ``method`` None: the method already applied to ``lab`` (what ``lab.inputs`` says it reads).
    """
    inputs = lab.inputs if method is None else get_method(method).INPUTS
    return lab.family == "causal" and inputs is InputKind.TOKENS


def _trainer_class():
    from transformers import Trainer

    class LabTrainer(Trainer):
        """Trainer whose causal fast path computes the loss on label positions only."""

        fast_path = False
        group_by_length = True

        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            if self.group_by_length and "length" in dataset.column_names:
                return LengthGroupedBatches(dataset["length"], self.args.train_batch_size,
                                            seed=self.args.seed)
            return super()._get_train_sampler(train_dataset)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if self.fast_path:
                loss = last_label_loss(model, inputs)
                return (loss, None) if return_outputs else loss
            inputs = {k: v for k, v in inputs.items() if k != "position_ids"}
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    return LabTrainer


# ------------------------------------------------------------------------------------ training


def train(model, method: str, data, *, split: str = "train", task: str = "summary",
          max_steps: int | None = None, num_epochs: float = 1.0, batch_size: int = 8,
          lr: float | None = None, max_length: int = MAX_LENGTH, limit: int | None = None,
          save_steps: int = 0, output_dir: str | os.PathLike | None = None, resume: bool = False,
          gradient_checkpointing: bool = False, seed: int = 42, method_overrides: dict | None = None,
          progress: bool = True, recipe_padding: bool = False,
          step_memory: bool = True) -> TrainResult:
    """Train ``model`` with a PEFT method on a DialogSum split, on the HF Trainer.

    Args:
        model: a :class:`~peftlab.models.LabModel` or a model name for :func:`~peftlab.models.load_model`.
        method: ``full``, ``lora``, ``prompt``, ``prefix`` or ``ln_tuning``; applied here unless the
            model already carries that peft adapter.
        data: a ``DatasetDict`` or anything :func:`~peftlab.data.load_dialogsum` takes.
        task: ``"summary"`` or ``"topic"`` (the column to learn).
        max_steps / num_epochs: length of training (max_steps wins when given).
        lr: learning rate (default: the method's ``DEFAULT_LR``).
        max_length: token limit per example (the dialogue is cut, never the summary).
        limit: use only the first ``limit`` training rows.
        save_steps: write ``output_dir/checkpoint-N`` every N steps (0: none).
        output_dir: where checkpoints, the final adapter/model and ``train_results.json`` go.
        resume: continue from the last checkpoint in ``output_dir`` (printed), if there is one.
        gradient_checkpointing: trade compute for activation memory.
        method_overrides: fields of the method's config, e.g. ``{"r": 8}``.
        recipe_padding: pad every example to ``max_length`` (the lab's recipe; benchmarks only).
        step_memory: measure one more training step split into parts (``costs.step_memory``);
            False skips that extra forward and backward (sweeps, which compare losses only).

    Returns:
        :class:`TrainResult` with the loss history and measured costs; ``result.lab`` is the
        trained LabModel.
    """
    import torch
    from transformers import TrainingArguments, set_seed

    from peftlab.memory import PeakMemory, dir_size

    set_seed(seed)
    lab = model if isinstance(model, LabModel) else load_model(model)
    rows = _training_rows(data, split, task, limit)
    if not getattr(lab.model, "peft_config", None) or method_overrides:
        apply_method(lab, method, **(method_overrides or {}))
    train_set = tokenize_split(lab, rows, task, max_length)

    fast = uses_fast_path(lab, method) and not recipe_padding
    collator = PaddingCollator(lab.tokenizer.pad_token_id, side="left" if fast else "right",
                               causal=lab.family == "causal",
                               fixed_length=max_length if recipe_padding else None)
    cuda = torch.cuda.is_available() and lab.device.type == "cuda"
    out_dir = Path(output_dir) if output_dir else None
    resume_from = _checkpoint_to_resume(out_dir) if resume else None
    args = TrainingArguments(
        output_dir=str(out_dir or Path(os.environ.get("TMPDIR", "/tmp")) / "peftlab-train"),
        per_device_train_batch_size=batch_size,
        learning_rate=lr or get_method(method).DEFAULT_LR,
        max_steps=max_steps if max_steps else -1,
        num_train_epochs=num_epochs,
        lr_scheduler_type="linear",
        weight_decay=0.0,
        logging_steps=1,
        save_strategy="steps" if (save_steps and out_dir) else "no",
        save_steps=save_steps or 500,
        save_total_limit=2,
        report_to=[],
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        train_sampling_strategy="random",  # length grouping: LabTrainer's own sampler
        remove_unused_columns=False,
        dataloader_num_workers=0,
        activation_checkpointing=gradient_checkpointing,  # transformers 5's name for it
        # non-reentrant checkpointing lets gradients reach adapters of a frozen base model
        activation_checkpointing_kwargs={"use_reentrant": False} if gradient_checkpointing else None,
        disable_tqdm=not progress,
        seed=seed,
        data_seed=seed,
    )
    trainer_cls = _trainer_class()
    trainer_cls.fast_path = fast
    trainer_cls.group_by_length = not recipe_padding
    lab.model.train()
    trainer = trainer_cls(model=lab.model, args=args, train_dataset=train_set.remove_columns("length")
                          if recipe_padding else train_set, data_collator=collator)
    with PeakMemory(cuda=cuda) as peak:
        started = time.perf_counter()
        output = trainer.train(resume_from_checkpoint=resume_from)
        seconds = time.perf_counter() - started

    history = [{"step": e["step"], "loss": e["loss"]} for e in trainer.state.log_history if "loss" in e]
    first_step = int(Path(resume_from).name.split("-")[-1]) if resume_from else 0
    examples = max(1, trainer.state.global_step - first_step) * batch_size
    costs = _costs(lab, collator, peak, seconds, examples)
    costs.precision = "bf16" if args.bf16 else "fp32"
    global_batch = (args.per_device_train_batch_size * max(1, args.n_gpu)
                    * args.gradient_accumulation_steps * args.world_size)
    costs.examples_seen = trainer.state.global_step * global_batch
    if step_memory:  # after _costs: its batch is not counted
        costs.step_memory = _step_memory(trainer, lab)
    result = TrainResult(method=method, model_name=lab.name, global_step=trainer.state.global_step,
                         final_loss=history[-1]["loss"] if history else float(output.training_loss),
                         loss_history=history, costs=costs,
                         output_dir=str(out_dir) if out_dir else None, resumed_from=resume_from, lab=lab)
    lab.model.eval()
    if args.world_size > 1:  # torchrun / accelerate launch: every rank must end with equal weights
        print(f"peftlab train: rank {args.process_index} of {args.world_size}: "
              f"{result.global_step} steps, {costs.real_tokens} real tokens, trained weights "
              f"{trained_fingerprint(lab.model)}", file=sys.stderr, flush=True)
    if out_dir and trainer.is_world_process_zero():  # one writer per folder
        costs.checkpoint_bytes = dir_size(save_trained(lab, method, out_dir, task))
        (out_dir / "train_results.json").write_text(json.dumps(result.to_json(), indent=2))
    trainer.accelerator.wait_for_everyone()
    if not math.isfinite(result.final_loss):
        raise PeftlabError(f"training {method} diverged (loss {result.final_loss}); lower --lr")
    return result


def validation_loss(lab, data, split: str = "validation", limit: int | None = None, *,
                    task: str = "summary", batch_size: int = 8,
                    max_length: int = MAX_LENGTH) -> float:
    """Mean token loss of the target on held-out rows: the loss training minimises, no update.

    The rows are tokenized and batched as :func:`train` does (the dialogue cut to fit, labels on
    the target only, the causal fast path where the model reads plain tokens), taken in order and
    scored in eval mode (no dropout) without gradients, so two calls on the same model agree.
    Every target token counts once: batches are weighted by their label tokens, not averaged.

    Args:
        lab: a :class:`~peftlab.models.LabModel`, trained or not.
        data: a ``DatasetDict`` or anything :func:`~peftlab.data.load_dialogsum` takes.
        split / limit: the first ``limit`` rows of ``split`` (all when None).
        task: ``"summary"`` or ``"topic"``.
        batch_size / max_length: batching only; they do not change the value beyond padding.

    Returns:
        The loss in nats per target token.
    """
    import torch

    rows = _training_rows(data, split, task, limit)
    examples = tokenize_split(lab, rows, task, max_length).remove_columns("length")
    fast = uses_fast_path(lab)
    collator = PaddingCollator(lab.tokenizer.pad_token_id, side="left" if fast else "right",
                               causal=lab.family == "causal")
    was_training = lab.model.training
    lab.model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            batch = collator([examples[i] for i in range(start, min(start + batch_size,
                                                                    len(examples)))])
            batch = {key: value.to(lab.device) for key, value in batch.items()}
            if fast:
                loss = last_label_loss(lab.model, batch)
            else:
                batch.pop("position_ids", None)
                loss = lab.model(**batch).loss
            # causal models predict token t from t-1: the first position's label is never scored
            labels = batch["labels"][:, 1:] if lab.family == "causal" else batch["labels"]
            count = int((labels != IGNORE).sum())
            total += float(loss) * count
            tokens += count
    lab.model.train(was_training)
    if not tokens:
        raise PeftlabError(f"no target tokens in the first {limit} rows of '{split}' to score")
    return total / tokens


def trained_fingerprint(model) -> str:
    """A short SHA-256 of the trainable weights (names and bytes, in order): equal on every rank
    of a data-parallel run, and different as soon as one weight differs."""
    import hashlib

    digest = hashlib.sha256()
    for name, param in model.named_parameters():
        if param.requires_grad:
            digest.update(name.encode())
            digest.update(param.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _training_rows(data, split: str, task: str, limit: int | None):
    """The first ``limit`` rows of ``split`` (all when None), checked to hold the ``task`` column."""
    data = data if hasattr(data, "keys") else load_dialogsum(data)
    if split not in data:
        raise PeftlabError(f"the data has no '{split}' split (it has {', '.join(data.keys())})")
    rows = data[split] if limit is None else data[split].select(range(min(limit, len(data[split]))))
    if task not in rows.column_names:
        raise PeftlabError(f"the '{split}' split has no '{task}' column to train on")
    return rows


def _checkpoint_to_resume(out_dir: Path | None) -> str | None:
    """The last checkpoint in ``out_dir``, said on stderr either way (resuming or starting at 0)."""
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(out_dir)) if out_dir and out_dir.is_dir() else None
    if last:
        print(f"resuming from {last}", file=sys.stderr, flush=True)
    else:
        print(f"no checkpoint in {out_dir}; starting at step 0", file=sys.stderr, flush=True)
    return last


def _costs(lab, collator: PaddingCollator, peak, seconds: float, examples: int) -> RunCosts:
    params = count_parameters(lab.model)

    def per_second(amount: float) -> float:
        return amount / seconds if seconds else 0.0

    return RunCosts(
        trainable_params=params.trainable, total_params=params.total,
        trainable_percent=params.percent, train_seconds=seconds,
        examples_per_second=per_second(examples), real_tokens=collator.real_tokens,
        padded_tokens=collator.padded_tokens, real_tokens_per_second=per_second(collator.real_tokens),
        padding_fraction=1 - collator.real_tokens / max(1, collator.padded_tokens),
        peak_memory_bytes=peak.bytes, peak_memory_kind=peak.kind, device=str(lab.device))


def _step_memory(trainer, lab) -> StepMemory | None:
    """One more forward and backward of the trained model on a batch of the run's size, split
    into parts; the optimizer's state is the run's own and the weights do not change."""
    import torch

    from peftlab.memory import training_step_memory

    optimizer = trainer.optimizer
    if optimizer is None or not optimizer.state:  # no step taken (e.g. resumed at the end)
        return None
    batch = next(iter(trainer.get_train_dataloader()))
    batch = {key: value.to(lab.device) for key, value in batch.items()}
    return training_step_memory(lab.model, optimizer, batch,
                                loss_fn=lambda model, inputs: trainer.compute_loss(model, inputs),
                                autocast_dtype=torch.bfloat16 if trainer.args.bf16 else None,
                                update=False)


def save_trained(lab, method: str, out_dir: Path, task: str = "summary") -> list[Path]:
    """Save what ``method`` trains (an adapter, or the whole model) and its ``peftlab.json``.

    Returns the weight files written (for the size on disk); a named peft adapter lands in
    ``out_dir/<adapter name>/``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    adapter = get_method(method).save(lab, out_dir)
    SavedRun(method=method, model=lab.name, task=task, adapter=adapter).write(out_dir)
    return [p for p in out_dir.rglob("*.safetensors")
            if not any(part.startswith("checkpoint-") for part in p.relative_to(out_dir).parts)]
