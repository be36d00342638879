"""Memory accounting: what training needs (estimated) and what it took (measured).

The course's rule of thumb: full fine-tuning in fp32 with Adam needs about 12-20x the weights'
memory — 4 bytes per weight for the weights, 4 for gradients, 8 for Adam's two moments, plus
activations and temporary buffers. :func:`training_memory_estimate` computes those parts for any
trainable-parameter count; :class:`PeakMemory` measures the real peak of a run.
"""

from __future__ import annotations

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
