"""Execution profiles of the course notebooks: how big every run is, in one place.

* ``smoke`` — ``tiny-t5`` on dialogsum-mini, a few steps: every notebook in seconds (CI).
* ``cpu`` — ``smollm2-135m-instruct`` on dialogsum-mini: real learning on 2 cores (``make run``).
* ``gpu`` — ``google/flan-t5-base`` on ``knkarthick/dialogsum``: real epochs on a CUDA machine.
* ``grade`` — chosen automatically when nbgrader executes a notebook (``NBGRADER_EXECUTION`` set):
  like smoke, smaller still, so a whole lab grades in well under a minute per notebook.

Every profile compares the methods (:data:`COMPARED_METHODS`) at one budget: ``method_steps``
optimizer steps at ``batch_size`` on the same first ``train_limit`` training rows, scored on the same
first ``eval_limit`` test dialogues. Numbers of the ``cpu`` profile come from measurements on 2 cores
(seconds per SmolLM2 step at batch 8 of the sample, ~330 tokens an example: LoRA 10, LayerNorm
tuning 11, prompt tuning 16, full 18, prefix tuning 28; greedy generation ~1 s a dialogue): 16 steps
(one pass over 128 examples) and 40 test dialogues per method.

The sweeps (:func:`~peftlab.sweeps.run_sweep`) have a budget of their own, the same for every point:
``sweep_steps`` steps at ``sweep_batch_size`` with examples cut to ``sweep_max_length`` tokens, once
per seed of ``sweep_seeds``, each run measured by its loss on the first ``sweep_val_limit`` rows of
``sweep_val_split`` (and ROUGE on ``sweep_eval_limit`` test dialogues, 0: none): compare their points
with each other, not with the main runs. ``cpu``: 8 steps at batch 4 of <= 192 tokens (the dialogue
cut), 2 seeds, the loss on 32 held-out rows; the sample's validation split has 25 rows, so it
measures on the first 32 test dialogues (no sweep chooses anything from them). One run (load, 8
steps, loss on 32 rows), measured on 2 cores shared with other jobs: LoRA r=16 30 s, prompt tuning
with 100 virtual tokens 63 s (at <= 256 tokens: 40 s, and 84 s of training alone). The two sweeps'
14 runs (LoRA: 3 ranks and all-linear at r=16; prompt tuning: 3 lengths; 2 seeds each) come to an
estimated 9-10 minutes.

Notebook 3's QLoRA section trains the lab's LoRA on the NF4-quantised base for ``qlora_steps``
steps on the sweeps' batch and length, and measures the base before and after quantising, and the
adapter, on the first ``qlora_val_limit`` rows of ``sweep_val_split``. ``cpu``: 8 steps, 16 rows;
measured on 2 cores shared with other jobs (load 4-5, upper bounds) at <= 256 tokens: the whole
section 243 s and 426 s in two runs (22 and 37 s a QLoRA step); one run of 3 steps each took 6.6 s a
step for LoRA on the fp32 base and 42.6 s on the NF4 base (a single layer's forward and backward:
1.6x, dequantising twice).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from peftlab.data import MAX_LENGTH
from peftlab.errors import PeftlabError


@dataclass(frozen=True)
class Profile:
    """Sizes of one course run. Steps are optimizer steps at ``batch_size``."""

    name: str
    model: str
    data: str
    batch_size: int = 8
    seed: int = 42
    max_length: int = MAX_LENGTH
    train_limit: int | None = None  # rows of train used (None: all)
    method_steps: int = 16  # optimizer steps of every compared method (the one budget)
    topic_steps: int = 8
    eval_limit: int | None = None  # test rows scored for zero-shot and every method (None: all)
    eval_batch_size: int = 8
    max_new_tokens: int = 60
    few_shot_examples: int = 4
    sweep_ranks: tuple = (4, 16, 64)
    sweep_lengths: tuple = (5, 20, 100)
    sweep_steps: int = 8  # optimizer steps of every sweep point (the sweeps' one budget)
    sweep_seeds: tuple = (42, 43)  # every point is trained once per seed
    sweep_batch_size: int = 8
    sweep_max_length: int = MAX_LENGTH  # token limit of a sweep example (the dialogue is cut)
    sweep_val_split: str = "validation"  # held-out rows whose loss measures a sweep point
    sweep_val_limit: int = 32
    sweep_eval_limit: int = 0  # test dialogues scored with ROUGE per sweep point (0: none)
    qlora_steps: int = 8  # LoRA steps on the NF4-quantised base (notebook 3's QLoRA section)
    qlora_val_limit: int = 16  # held-out rows whose loss measures the NF4 base and its LoRA
    cell_timeout: int = 1800  # seconds per cell under papermill
    dry_run_model: str | None = None  # what a dry run loads: this model family, offline
    dry_run: bool = False
    notes: str = field(default="", compare=False)

    def dry(self) -> Profile:
        """This profile's code path (model family, methods, evaluation, report) at the smallest size.

        ``peftlab run --profile gpu --dry-run`` runs it on a CPU in a few minutes, so the code of a
        profile that needs a GPU and the Hub is executed by CI: ``dry_run_model`` offline (random
        weights of the same architecture) on the embedded sample, one optimizer step per training
        run at batch 2 and 128 tokens, one point per sweep, two evaluation dialogues. Its numbers
        are not results. bf16 stays as the profile has it: on CUDA only.
        """
        middle = len(self.sweep_ranks) // 2, len(self.sweep_lengths) // 2
        return dataclasses.replace(
            self, model=self.dry_run_model or self.model, data="dialogsum-mini", batch_size=2,
            eval_batch_size=2, max_length=128, train_limit=4,
            **{name: 1 for name in STEP_FIELDS}, eval_limit=2,
            max_new_tokens=8, few_shot_examples=1, sweep_ranks=(self.sweep_ranks[middle[0]],),
            sweep_lengths=(self.sweep_lengths[middle[1]],), sweep_seeds=self.sweep_seeds[:1],
            sweep_batch_size=2, sweep_max_length=128, sweep_val_limit=2,
            qlora_val_limit=2,
            sweep_eval_limit=min(2, self.sweep_eval_limit), cell_timeout=600,
            dry_run=True, notes=f"dry run of the {self.name} profile's code path with "
                                f"{self.dry_run_model or self.model} (random weights where "
                                f"offline): outputs are not results")


PROFILES = {
    "smoke": Profile(
        name="smoke", model="tiny-t5", data="dialogsum-mini", batch_size=4, train_limit=16,
        method_steps=2, topic_steps=1, eval_limit=4, max_new_tokens=8, few_shot_examples=2,
        sweep_ranks=(1, 8), sweep_lengths=(4, 8), sweep_steps=1, sweep_batch_size=4,
        sweep_max_length=256, sweep_val_limit=4, sweep_eval_limit=2, qlora_steps=1,
        qlora_val_limit=4, cell_timeout=300,
        notes="tiny random T5: checks that everything runs; its ROUGE is noise, not a result"),
    "grade": Profile(
        name="grade", model="tiny-t5", data="dialogsum-mini", batch_size=2, train_limit=4,
        method_steps=1, topic_steps=1, eval_limit=2, max_new_tokens=4, few_shot_examples=1,
        sweep_ranks=(2,), sweep_lengths=(4,), sweep_steps=1, sweep_seeds=(42,), sweep_batch_size=2,
        sweep_max_length=128, sweep_val_limit=2, qlora_steps=1, qlora_val_limit=2,
        cell_timeout=30,
        notes="nbgrader's fast grading profile: tiny random T5, outputs are not results"),
    "cpu": Profile(
        name="cpu", model="smollm2-135m-instruct", data="dialogsum-mini", batch_size=8,
        train_limit=128, method_steps=16, topic_steps=4, eval_limit=40, max_new_tokens=60,
        few_shot_examples=2, sweep_ranks=(4, 16, 64), sweep_lengths=(5, 20, 100), sweep_steps=8,
        sweep_batch_size=4, sweep_max_length=192, sweep_val_split="test", sweep_val_limit=32,
        cell_timeout=1800,
        notes="SmolLM2-135M-Instruct (pretrained, dequantised from a 4-bit Q4_1 GGUF) on the "
              "embedded sample, 2 CPU cores"),
    "gpu": Profile(
        name="gpu", model="google/flan-t5-base", data="knkarthick/dialogsum", batch_size=16,
        method_steps=1000, topic_steps=300, eval_limit=500, eval_batch_size=32, max_new_tokens=60,
        few_shot_examples=2,
        sweep_ranks=(2, 4, 8, 16, 32, 64), sweep_lengths=(5, 10, 20, 50, 100), sweep_steps=200,
        sweep_seeds=(42, 43, 44), sweep_batch_size=16, sweep_val_limit=200, sweep_eval_limit=100,
        cell_timeout=7200, dry_run_model="flan-t5-base-shape",
        notes="FLAN-T5-base on full DialogSum, one CUDA GPU with the Hub"),
}


PROFILE_VARIABLE = "PEFTLAB_PROFILE"  # the profile of notebooks whose `profile` is None
DEFAULT_PROFILE = "cpu"

STEP_FIELDS = ("method_steps", "topic_steps", "sweep_steps", "qlora_steps")
# The methods notebook 5 compares, each trained for `method_steps` and scored on `eval_limit`.
COMPARED_METHODS = ("full", "ln_tuning", "lora", "prompt", "prefix")


def get_profile(name: str | None = None, max_steps: int | None = None, dry_run: bool = False,
                **overrides) -> Profile:
    """Return a profile, switched to ``grade`` under nbgrader, with overrides applied.

    Args:
        name: ``smoke``, ``cpu``, ``gpu`` or ``grade``; None: ``$PEFTLAB_PROFILE`` if set, else
            ``cpu`` (a notebook's ``profile = None`` follows the environment its kernel started
            in, e.g. ``make lab PROFILE=smoke``).
        max_steps: when given, every training run of the notebooks takes this many steps.
        dry_run: the profile's code path at the smallest size (:meth:`Profile.dry`).
        **overrides: profile fields to replace; ``None`` values are ignored (notebook parameters
            left at ``None`` keep the profile's value).
    """
    if os.environ.get("NBGRADER_EXECUTION"):
        name, dry_run, overrides = "grade", False, {}
    if not name and os.environ.get(PROFILE_VARIABLE):
        name = os.environ[PROFILE_VARIABLE]
        if name not in PROFILES:
            raise PeftlabError(f"{PROFILE_VARIABLE}={name!r} is not a profile: set it to one of "
                               f"{', '.join(PROFILES)}, or unset it for {DEFAULT_PROFILE}")
    name = name or DEFAULT_PROFILE
    if name not in PROFILES:
        raise PeftlabError(f"unknown profile '{name}': choose one of {', '.join(PROFILES)}")
    fields = {f.name for f in dataclasses.fields(Profile)}
    unknown = {k for k in overrides if k not in fields}
    if unknown:
        raise PeftlabError(f"profile has no field(s) {', '.join(sorted(unknown))}; "
                           f"fields: {', '.join(sorted(fields))}")
    given = {k: v for k, v in overrides.items() if v is not None}
    if max_steps:
        given.update({k: int(max_steps) for k in STEP_FIELDS})
    chosen = PROFILES[name].dry() if dry_run else PROFILES[name]
    swapped = {k: given[k] for k in ("model", "data") if k in given and given[k] != getattr(chosen, k)}
    if swapped and "notes" not in given:  # the notes describe the profile's own model and data
        given["notes"] = (f"the {name} profile's sizes with model {given.get('model', chosen.model)}"
                          f" on data {given.get('data', chosen.data)} (set by the run, not the "
                          f"profile's own)")
    return dataclasses.replace(chosen, **given)
