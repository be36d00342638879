"""Memory accounting: what training needs (estimated) and what it took (measured).

The course's rule of thumb: full fine-tuning in fp32 with Adam needs about 12-20x the weights'
memory — 4 bytes per weight for the weights, 4 for gradients, 8 for Adam's two moments, plus
activations and temporary buffers. :func:`training_memory_estimate` computes those parts for any
trainable-parameter count; :class:`PeakMemory` measures the real peak of a run;
:func:`training_step_memory` runs one training step and splits what it held into those parts,
counted from the tensors themselves (weights, gradients, optimizer state) and measured (activations).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 1}


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes of each part of a training step's memory."""

    weights: int
    gradients: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations

    def as_gb(self) -> dict[str, float]:
        parts = {"weights": self.weights, "gradients": self.gradients, "optimizer": self.optimizer,
                 "activations": self.activations, "total": self.total}
        return {k: v / 1e9 for k, v in parts.items()}


def training_memory_estimate(total_params: int, trainable_params: int | None = None,
                             dtype: str = "fp32", activations: int = 0,
                             optimizer_states: int = 2) -> MemoryEstimate:
    """Estimate a training step's memory: weights, gradients, optimizer states, activations.

    Args:
        total_params: parameters held in memory (frozen ones too).
        trainable_params: parameters with gradients and optimizer state (default: all).
        dtype: storage type of weights and gradients (``fp32``, ``bf16``, ``fp16``, ``int8``).
        activations: bytes of activations to add (measured or estimated separately).
        optimizer_states: fp32 values kept per trainable parameter (Adam: 2).
    """
    trainable = total_params if trainable_params is None else trainable_params
    width = BYTES[dtype]
    return MemoryEstimate(weights=total_params * width, gradients=trainable * width,
                          optimizer=trainable * 4 * optimizer_states, activations=activations)


def current_rss() -> int:
    """Resident memory of this process, in bytes."""
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss


class PeakMemory:
    """Context manager measuring the peak memory of the code inside it.

    On CUDA it reads ``torch.cuda.max_memory_allocated`` (reset on entry); on CPU a background
    thread samples the process's RSS every 20 ms. ``.bytes`` is the peak, ``.kind`` says which.
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


@dataclass(frozen=True)
class StepMemory:
    """Bytes one training step held, split into parts (what :func:`training_step_memory` returns).

    Attributes:
        weights: every parameter, frozen ones too (numel x element size, shared tensors once).
        gradients: the ``.grad`` tensors after backward: trainable parameters only.
        optimizer: the optimizer's state tensors (fp32 Adam: two moments per weight, and a step
            counter per tensor).
        activations: on CUDA, the peak of forward and backward minus everything else the step held
            (so activations *and* temporary buffers); on CPU, :attr:`saved`.
        other: on CUDA, what else was allocated when the step began (the batch, buffers); 0 on CPU.
        saved: bytes of the tensors autograd saved for backward, each storage once, parameters
            left out (measured on both devices).
        peak: CUDA's peak allocated bytes during forward and backward; ``None`` on CPU.
        kind: ``"cuda_peak"`` or ``"saved_tensors"``: how :attr:`activations` was measured.
    """

    weights: int
    gradients: int
    optimizer: int
    activations: int
    other: int
    saved: int
    peak: int | None
    kind: str

    @property
    def total(self) -> int:
        """The parts added up; on CUDA this is the measured peak."""
        return self.weights + self.gradients + self.optimizer + self.activations + self.other

    @property
    def ratio(self) -> float:
        """Training memory over the weights' memory (the course's rule of thumb compares this)."""
        return self.total / self.weights if self.weights else 0.0


def tensor_bytes(tensors) -> int:
    """Bytes of distinct tensors (numel x element size; a tensor met twice counts once)."""
    seen, total = set(), 0
    for tensor in tensors:
        key = (tensor.device, tensor.data_ptr(), tensor.numel(), tensor.dtype)
        if key not in seen:
            seen.add(key)
            total += tensor.numel() * tensor.element_size()
    return total


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


def training_step_memory(model, optimizer, batch: dict, loss_fn=None,
                         autocast_dtype=None) -> StepMemory:
    """Run one training step and split the memory it held into weights, gradients, optimizer
    state and activations.

    Weights, gradients and optimizer state are counted exactly from their tensors. Activations are
    measured: on CUDA as the peak allocated during forward and backward minus everything else the
    step held (weights, optimizer state, the batch, the gradients), so they include temporary
    buffers and the parts add up to the measured peak; on CPU, where no allocator keeps a peak, as
    the bytes of the tensors autograd saved for backward (``torch.autograd.graph.saved_tensors_hooks``,
    each storage once, parameters left out).

    Adam creates its state at its first step; when ``optimizer`` has no state yet, one warm-up step
    runs first so that the measured step holds the state as every later step does. Both steps
    update the weights.

    Args:
        model: a ``torch.nn.Module`` on one device, with the parameters to train set to
            ``requires_grad``.
        optimizer: an optimizer over (some of) the model's parameters.
        batch: keyword inputs of the model, on its device.
        loss_fn: ``loss_fn(model, batch)`` returns the scalar loss; default ``model(**batch).loss``
            (Hugging Face models given ``labels``).
        autocast_dtype: run the forward pass under ``torch.autocast`` in this dtype (e.g.
            ``torch.bfloat16``, as the Trainer's ``bf16=True``); ``None``: no autocast.

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
    weights = tensor_bytes(params)
    gradients = tensor_bytes(p.grad for p in params if p.grad is not None)
    optimizer.step()
    state = tensor_bytes(optimizer_state_tensors(optimizer))
    if cuda:
        other = max(0, start - weights - state)
        activations = max(0, peak - start - gradients)
        kind = "cuda_peak"
    else:
        other, activations, kind = 0, saved.bytes, "saved_tensors"
    return StepMemory(weights=weights, gradients=gradients, optimizer=state,
                      activations=activations, other=other, saved=saved.bytes, peak=peak, kind=kind)
