"""Memory accounting: what training needs (estimated, byte by byte) and what it took (measured).

**The byte model** (:data:`BYTE_MODEL`), per parameter, for full fine-tuning with Adam:

============================  ===========  ===============================
part                          ``fp32``     ``mixed`` (bf16 + fp32 master)
============================  ===========  ===============================
weights                       4            2
gradients                     4            2
fp32 master copy              –            4
Adam's two moments (fp32)     8            8
activations and buffers       ~8           8–24
**total**                     **≈ 24 B**   **≈ 24–40 B**
============================  ===========  ===============================

Every ratio has a frame: the weights it divides by. In its own frame fp32 training takes about
6x the fp32 weights (1B parameters: 24 GB for 4 GB of weights) and mixed precision 12-20x the
16-bit weights (1B parameters: 24-40 GB for 2 GB of bf16 weights); in the fp32 frame the same
24-40 B are 6-10x. Activations grow with batch size and sequence length: per parameter they are
only a rule of thumb (the measured breakdown gives the real figure).

**What PEFT removes**: gradients, the master copy and Adam's state exist only for *trainable*
weights. A frozen weight costs its storage alone; activations stay (backward still runs through the
frozen layers). :func:`training_memory_estimate` applies the byte model to a method's total and
trainable counts.

**Measured**: :func:`training_step_memory` runs one training step and splits what it held into
weights (by dtype), gradients and optimizer state, counted exactly from the tensors, and
activations, measured (the tensors autograd saved for backward; on CUDA also the peak allocated).
These are bytes of this model's tensors only, not the process's resident memory (which also holds
Python, the libraries and every other model loaded): :class:`PeakMemory` measures that, and it is
no measure of a method's cost.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Precision = Literal["fp32", "mixed"]


@dataclass(frozen=True)
class BytePart:
    """One part of the byte model: bytes per parameter, and which parameters pay it.

    Attributes:
        name: ``weights``, ``gradients``, ``master``, ``optimizer`` or ``activations``.
        low / high: bytes per parameter (equal unless the part is a range, as activations).
        trainable_only: paid by trainable parameters only (gradients, master copy, Adam state);
            otherwise by every parameter held (weights; activations, as a rule of thumb).
        what: what the bytes hold.
    """

    name: str
    low: int
    high: int
    trainable_only: bool
    what: str


BYTE_MODEL: dict[str, tuple[BytePart, ...]] = {
    "fp32": (
        BytePart("weights", 4, 4, False, "fp32 weights"),
        BytePart("gradients", 4, 4, True, "an fp32 gradient per trainable weight"),
        BytePart("optimizer", 8, 8, True, "Adam's two moment estimates, fp32"),
        BytePart("activations", 8, 8, False, "activations and temporary buffers (~8, grow with "
                                             "batch size and sequence length)"),
    ),
    "mixed": (
        BytePart("weights", 2, 2, False, "bf16 weights that forward and backward use"),
        BytePart("gradients", 2, 2, True, "a bf16 gradient per trainable weight"),
        BytePart("master", 4, 4, True, "the fp32 master copy of each trainable weight, which "
                                       "Adam updates"),
        BytePart("optimizer", 8, 8, True, "Adam's two moment estimates, fp32"),
        BytePart("activations", 8, 24, False, "activations and temporary buffers (8-24, grow "
                                              "with batch size and sequence length)"),
    ),
}
PARTS = ("weights", "gradients", "master", "optimizer", "activations")


def byte_parts(precision: Precision) -> tuple[BytePart, ...]:
    """The parts of the byte model of ``precision`` (``fp32`` or ``mixed``)."""
    if precision not in BYTE_MODEL:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(BYTE_MODEL)}")
    return BYTE_MODEL[precision]


def bytes_per_parameter(precision: Precision) -> tuple[int, int]:
    """(low, high) bytes per parameter to train every weight: fp32 (24, 24), mixed (24, 40)."""
    parts = byte_parts(precision)
    return sum(p.low for p in parts), sum(p.high for p in parts)


def weight_bytes(precision: Precision) -> int:
    """Bytes of one stored weight in ``precision``: the frame its ratios are in (4 or 2)."""
    return next(p.low for p in byte_parts(precision) if p.name == "weights")


def times_weights(precision: Precision, frame: Precision | None = None) -> tuple[float, float]:
    """(low, high) training memory over the weights' memory.

    Args:
        precision: what training keeps (``fp32`` or ``mixed``).
        frame: whose weights to divide by (default: ``precision``'s own). ``mixed`` in its own,
            16-bit frame is 12-20x; the same bytes over fp32 weights (``frame="fp32"``) are 6-10x.
    """
    low, high = bytes_per_parameter(precision)
    unit = weight_bytes(frame or precision)
    return low / unit, high / unit


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated bytes of each part of a training step (see :func:`training_memory_estimate`).

    All in bytes; ``master`` is 0 in fp32.
    """

    precision: str
    weights: int
    gradients: int
    master: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.master + self.optimizer + self.activations

    def as_gb(self) -> dict[str, float]:
        """The parts and ``total`` in GB (10^9 bytes)."""
        parts = {name: getattr(self, name) for name in PARTS}
        return {k: v / 1e9 for k, v in {**parts, "total": self.total}.items()}


def training_memory_estimate(total_params: int, trainable_params: int | None = None,
                             precision: Precision = "fp32",
                             activations: int | None = None) -> MemoryEstimate:
    """Estimate a training step's memory from the byte model and the parameter counts.

    Frozen weights cost their storage only; each trainable one adds its gradient, in ``mixed`` its
    fp32 master copy, and Adam's two fp32 moments. So under a PEFT method the gradient, master and
    optimizer bytes scale with the trainable count, while weights and activations do not.

    Args:
        total_params: parameters held in memory (frozen ones too).
        trainable_params: parameters that train (default: all, i.e. full fine-tuning).
        precision: ``fp32`` or ``mixed`` (:data:`BYTE_MODEL`).
        activations: bytes of activations (e.g. measured); default the byte model's low rule of
            thumb per parameter held (8 B), which is the same for every method.

    Returns:
        :class:`MemoryEstimate`, in bytes.
    """
    trainable = total_params if trainable_params is None else trainable_params
    if not 0 <= trainable <= total_params:
        raise ValueError(f"trainable_params {trainable} must lie between 0 and total_params "
                         f"{total_params}")
    parts = {name: 0 for name in PARTS}
    for part in byte_parts(precision):
        parts[part.name] = (trainable if part.trainable_only else total_params) * part.low
    if activations is not None:
        parts["activations"] = activations
    return MemoryEstimate(precision=precision, **parts)


def training_memory_gb(n_params: int, precision: Precision = "fp32",
                       activation_bytes: int = 8) -> dict[str, float]:
    """Lab 2's exercise 4: full fine-tuning with Adam by the byte model, part by part, in GB.

    1B parameters: 24 GB in fp32 (6x its 4 GB of fp32 weights); 24 GB in mixed precision with
    8 B of activations per parameter, 40 GB with 24 B (12-20x its 2 GB of 16-bit weights).
    Notebook 2 falls back to this while the exercise is blank.

    Args:
        n_params: parameters of the model, all trained.
        precision: ``fp32`` or ``mixed`` (bf16 weights and gradients, an fp32 master copy).
        activation_bytes: bytes of activations and buffers per parameter (the byte model: ~8,
            8-24 in mixed precision).

    Returns:
        ``{"weights", "gradients", "master", "optimizer", "activations", "total"}`` in GB
        (10^9 bytes); ``master`` is 0 in fp32.
    """
    return training_memory_estimate(n_params, precision=precision,
                                    activations=n_params * activation_bytes).as_gb()


# ------------------------------------------------------------------ process and disk


def current_rss() -> int:
    """Resident memory of this whole process, in bytes."""
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss


class PeakMemory:
    """Context manager measuring the peak memory of the process while the code inside it runs.

    On CUDA it reads ``torch.cuda.max_memory_allocated`` (reset on entry); on CPU a background
    thread samples the process's RSS every 20 ms. ``.bytes`` is the peak, ``.kind`` says which.
    Whole-process figures: on CPU they include Python, the libraries and every model loaded so
    far, so they do not compare methods; :func:`training_step_memory` does.
    """

    def __init__(self, cuda: bool = False, interval: float = 0.02):
        self.cuda, self.interval = cuda, interval
        self.bytes = 0
        self.kind = "cuda_max_allocated" if cuda else "peak_rss"
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        if self.cuda:
            import torch

            torch.cuda.reset_peak_memory_stats()
        else:
            self.bytes = current_rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(self.interval):
            self.bytes = max(self.bytes, current_rss())

    def __exit__(self, *exc):
        if self.cuda:
            import torch

            self.bytes = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
            self.bytes = max(self.bytes, current_rss())
        return False


def dir_size(paths) -> int:
    """Total bytes of a file, a folder (recursively) or a list of them."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    total = 0
    for path in map(Path, paths):
        if path.is_dir():
            total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        elif path.exists():
            total += path.stat().st_size
    return total


def model_bytes(model) -> int:
    """Bytes held by a model's parameters and buffers (shared tensors once)."""
    seen, total = set(), 0
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.data_ptr() not in seen:
            seen.add(tensor.data_ptr())
            total += tensor.numel() * tensor.element_size()
    return total


# ------------------------------------------------------------------ one training step, in parts

MEASURED_PARTS = ("weights", "gradients", "optimizer", "activations")


@dataclass(frozen=True)
class StepMemory:
    """Bytes one training step held, split into parts (what :func:`training_step_memory` returns).

    Bytes of this model's tensors as they are held (on CPU and under the Trainer's ``bf16``
    autocast the weights stay fp32, so compare with the byte model's ``fp32`` frame), never the
    process's resident memory.

    Attributes:
        weights: every parameter, frozen ones too (numel x element size, shared tensors once).
        gradients: the ``.grad`` tensors after backward: trainable parameters only.
        optimizer: the optimizer's state tensors (Adam: two moments per trainable weight, in the
            weight's dtype, and a step counter per tensor).
        activations: on CUDA, the peak of forward and backward minus everything else the step held
            (so activations *and* temporary buffers); on CPU, :attr:`saved`.
        other: on CUDA, what else was allocated when the step began (the batch, buffers); 0 on CPU.
        saved: bytes of the tensors autograd saved for backward, each storage once, parameters
            left out (measured on both devices).
        peak: CUDA's peak allocated bytes during forward and backward; ``None`` on CPU.
        kind: ``"cuda_peak"`` or ``"saved_tensors"``: how :attr:`activations` was measured.
        weights_by_dtype: :attr:`weights` split by dtype (``{"float32": ...}``).
    """

    weights: int
    gradients: int
    optimizer: int
    activations: int
    other: int
    saved: int
    peak: int | None
    kind: str
    weights_by_dtype: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """The parts added up; on CUDA this is the measured peak."""
        return self.weights + self.gradients + self.optimizer + self.activations + self.other

    @property
    def ratio(self) -> float:
        """Training memory over the weights' memory as held (the frame of their own dtype)."""
        return self.total / self.weights if self.weights else 0.0

    def as_gb(self) -> dict[str, float]:
        """Weights, gradients, optimizer and activations in GB (10^9 bytes), for a stacked bar."""
        return {name: getattr(self, name) / 1e9 for name in MEASURED_PARTS}


def tensor_bytes(tensors) -> int:
    """Bytes of distinct tensors (numel x element size; a tensor met twice counts once)."""
    return sum(_distinct_bytes(tensors).values())


def bytes_by_dtype(tensors) -> dict[str, int]:
    """Bytes of distinct tensors per dtype name (``float32``, ``bfloat16``, ...)."""
    found: dict[str, int] = {}
    for (_, _, _, dtype), nbytes in _distinct_bytes(tensors).items():
        name = str(dtype).removeprefix("torch.")
        found[name] = found.get(name, 0) + nbytes
    return found


def _distinct_bytes(tensors) -> dict:
    seen: dict = {}
    for tensor in tensors:
        key = (tensor.device, tensor.data_ptr(), tensor.numel(), tensor.dtype)
        seen.setdefault(key, tensor.numel() * tensor.element_size())
    return seen


def optimizer_state_tensors(optimizer) -> list:
    """The tensors an optimizer keeps per parameter (Adam: ``exp_avg``, ``exp_avg_sq``, ``step``)."""
    import torch

    return [value for state in optimizer.state.values() for value in state.values()
            if isinstance(value, torch.Tensor)]


class SavedTensors:
    """A ``saved_tensors_hooks`` pair adding up the bytes autograd keeps for backward.

    Each storage counts once (a ReLU's output saved by the next layer too is one tensor), and the
    storages of ``exclude`` (the parameters: saving a weight for backward costs nothing new) not at
    all. Whole storages count, since a saved view keeps all of its storage alive.
    """

    def __init__(self, exclude=()):
        self.bytes = 0
        self._seen = {_storage_key(t) for t in exclude}

    def pack(self, tensor):
        key = _storage_key(tensor)
        if key not in self._seen:
            self._seen.add(key)
            self.bytes += _storage_bytes(tensor)
        return tensor

    @staticmethod
    def unpack(tensor):
        return tensor


def _storage_key(tensor):
    try:
        return tensor.device, tensor.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # tensor subclasses without a plain storage
        return tensor.device, id(tensor)


def _storage_bytes(tensor) -> int:
    try:
        return tensor.untyped_storage().nbytes()
    except (RuntimeError, NotImplementedError):
        return tensor.numel() * tensor.element_size()


def training_step_memory(model, optimizer, batch: dict, loss_fn=None, autocast_dtype=None,
                         update: bool = True) -> StepMemory:
    """Run one training step and split the memory it held into weights, gradients, optimizer
    state and activations.

    Weights, gradients and optimizer state are counted exactly from their tensors. Activations are
    measured: on CPU as the bytes of the tensors autograd saved for backward
    (``torch.autograd.graph.saved_tensors_hooks``, each storage once, parameters left out); on CUDA
    as the peak allocated during forward and backward minus everything else the step held
    (weights, optimizer state, the batch, the gradients), so they include temporary buffers and
    the parts add up to the measured peak (the saved bytes are kept too, as ``saved``).

    Adam creates its state at its first step; when ``optimizer`` has no state yet, one warm-up step
    runs first so that the measured step holds the state as every later step does (this updates
    the weights).

    Args:
        model: a ``torch.nn.Module`` on one device, with the parameters to train set to
            ``requires_grad``.
        optimizer: an optimizer over (some of) the model's parameters.
        batch: keyword inputs of the model, on its device.
        loss_fn: ``loss_fn(model, batch)`` returns the scalar loss; default ``model(**batch).loss``
            (Hugging Face models given ``labels``).
        autocast_dtype: run the forward pass under ``torch.autocast`` in this dtype (e.g.
            ``torch.bfloat16``, as the Trainer's ``bf16=True``); ``None``: no autocast.
        update: end with ``optimizer.step()`` (the weights change). ``False`` measures forward
            and backward of an optimizer that already holds its state and leaves the weights as
            they were (the gradients are dropped afterwards).

    Returns:
        :class:`StepMemory`.
    """
    import torch

    params = list(model.parameters())
    device = params[0].device
    cuda = device.type == "cuda"
    loss_fn = loss_fn or (lambda m, b: m(**b).loss)

    def step(saved: SavedTensors | None) -> None:
        optimizer.zero_grad(set_to_none=True)
        autocast = (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype
                    else contextlib.nullcontext())
        hooks = (torch.autograd.graph.saved_tensors_hooks(saved.pack, saved.unpack) if saved
                 else contextlib.nullcontext())
        with autocast, hooks:
            loss = loss_fn(model, batch)
        loss.backward()

    if not optimizer.state:
        step(None)
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if cuda:
        torch.cuda.synchronize(device)
        start = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
    saved = SavedTensors(exclude=params)
    step(saved)
    peak = None
    if cuda:
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
    weights = bytes_by_dtype(params)
    gradients = tensor_bytes(p.grad for p in params if p.grad is not None)
    if update:
        optimizer.step()
    else:
        optimizer.zero_grad(set_to_none=True)
    state = tensor_bytes(optimizer_state_tensors(optimizer))
    if cuda:
        other = max(0, start - sum(weights.values()) - state)
        activations = max(0, peak - start - gradients)
        kind = "cuda_peak"
    else:
        other, activations, kind = 0, saved.bytes, "saved_tensors"
    return StepMemory(weights=sum(weights.values()), gradients=gradients, optimizer=state,
                      activations=activations, other=other, saved=saved.bytes, peak=peak,
                      kind=kind, weights_by_dtype=weights)
