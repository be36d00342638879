"""Training-step cost of full fine-tuning, LoRA, prompt and prefix tuning, side by side.

For each method on a model shape it runs the same training step (AdamW; on CUDA in bf16 autocast
with fp32 weights, as the Trainer's ``bf16=True``) on a fixed random batch and prints:

* step time and tokens/s (encoder + decoder tokens of the batch, no padding);
* the step's memory split into weights, gradients, optimizer state and activations, counted from
  the tensors and measured by :func:`peftlab.memory.training_step_memory` (on CUDA the parts add up
  to the peak allocated memory; "other" is the batch and buffers);
* memory ÷ weights, next to the course's rule of thumb for full fine-tuning with Adam in the fp32
  frame (about 24 B a parameter over 4 B of fp32 weights: 6×; bf16 autocast keeps fp32 weights);
* model FLOPs utilisation (MFU) against the GPU's dense bf16 peak.

Shapes: ``flan-t5-base-shape`` (peftlab's FLAN-T5-base architecture, random weights) and, when at
least 40 GiB of CUDA memory are free, FLAN-T5-large's shape (24+24 layers, d_model 1024, built here
with random weights). Without CUDA, and without arguments, it measures ``tiny-t5`` in well under
five minutes (CI runs it that way so that the script stays alive).

Model FLOPs are counted, not estimated: ``torch.utils.flop_counter`` adds up the matmul and
attention FLOPs of one forward and one backward pass. They follow the standard rule: the forward
pass costs ``2·N·tokens``; backward costs ``4·N·tokens`` when the weights train (each layer's input
gradient and weight gradient: ``6·N·tokens`` per step, full fine-tuning) and ``2·N·tokens`` when
they are frozen (LoRA, prompt tuning: backward still runs through every frozen layer to reach the
adapters, but computes no weight gradients: ``4·N·tokens`` per step). The column "step ÷ fwd"
shows the ratio (≈3 and ≈2). Prefix tuning on T5 counts less: peft hands the prefixes to the
decoder's attention only, so backward never enters the encoder. MFU is those FLOPs per second over
the GPU's dense bf16 peak: 989 TFLOP/s for an H100 or H200 SXM (NVIDIA's H100/H200 datasheets;
1,979 with sparsity). On a GPU not in :data:`BF16_PEAK` pass ``--peak-tflops``; on CPU MFU is "–".

Usage::

    .venv/bin/python benchmarks/gpu.py [--shapes flan-t5-base-shape flan-t5-large-shape]
        [--methods full lora prompt prefix] [--batch-size 16] [--source-tokens 256]
        [--target-tokens 64] [--steps 10] [--json results.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

METHODS = ("full", "lora", "prompt", "prefix")
TINY, BASE, LARGE = "tiny-t5", "flan-t5-base-shape", "flan-t5-large-shape"
LARGE_MIN_FREE_GIB = 40  # full fine-tuning of 783M parameters with AdamW in fp32 needs ~13 GB + activations
# Dense bf16 tensor-core peaks (FLOP/s) by a substring of torch.cuda.get_device_name(); the first
# match wins. NVIDIA datasheets: H100/H200 SXM 989.4 TFLOP/s, H100 PCIe 756, A100 312.
BF16_PEAK = (("H100 PCIe", 756e12), ("H100", 989e12), ("H200", 989e12), ("A100", 312e12))
RULE_OF_THUMB = "≈6× in the fp32 frame"  # full fine-tuning with Adam (peftlab.memory)


@dataclass
class Row:
    """One method on one shape: what a training step cost."""

    shape: str
    method: str
    device: str
    trainable_params: int
    total_params: int
    batch_size: int
    tokens_per_step: int
    step_seconds: float
    tokens_per_second: float
    flops_per_step: float
    flops_over_forward: float
    mfu: float | None
    weights: int
    gradients: int
    optimizer: int
    activations: int
    other: int
    peak: int | None
    memory_kind: str
    ratio: float

    # Derived figures, in the units of the printed table.
    step_ms = property(lambda self: self.step_seconds * 1e3)
    gflops = property(lambda self: self.flops_per_step / 1e9)
    mfu_percent = property(lambda self: None if self.mfu is None else 100 * self.mfu)
    peak_mb = property(lambda self: None if self.peak is None else self.peak / 1e6)
    weights_mb = property(lambda self: self.weights / 1e6)
    gradients_mb = property(lambda self: self.gradients / 1e6)
    optimizer_mb = property(lambda self: self.optimizer / 1e6)
    activations_mb = property(lambda self: self.activations / 1e6)
    other_mb = property(lambda self: self.other / 1e6)


def large_shape_model():
    """FLAN-T5-large's architecture (24+24 layers, d_model 1024, d_ff 2816, 16 heads), random weights."""
    from transformers import T5Config, T5ForConditionalGeneration

    config = T5Config(vocab_size=32128, d_model=1024, d_kv=64, d_ff=2816, num_layers=24,
                      num_decoder_layers=24, num_heads=16, feed_forward_proj="gated-gelu",
                      tie_word_embeddings=False, pad_token_id=0, eos_token_id=1,
                      decoder_start_token_id=0)
    return T5ForConditionalGeneration(config)


def load_shape(name: str, device: str):
    """A LabModel of the shape, on ``device`` (the large shape borrows tiny-t5's tokenizer, which
    only text-initialised soft prompts read)."""
    import torch

    from peftlab.models import load_model

    if name != LARGE:
        return load_model(name, device=device)
    lab = load_model(TINY, device=device)
    with torch.device(device):  # initialise on the GPU: seconds instead of a minute on the CPU
        lab.model = large_shape_model()
    lab.model.eval()
    lab.name = LARGE
    return lab


def counted_flops(model, batch: dict, autocast) -> tuple[float, float]:
    """FLOPs of one forward and of one backward pass, as ``torch.utils.flop_counter`` counts them."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    device_type = next(model.parameters()).device.type
    with FlopCounterMode(display=False) as counter:
        with torch.autocast(device_type, dtype=autocast, enabled=autocast is not None):
            loss = model(**batch).loss
        forward = counter.get_total_flops()
        loss.backward()
    model.zero_grad(set_to_none=True)
    return forward, counter.get_total_flops() - forward


def bf16_peak(device: str, given_tflops: float | None) -> float | None:
    """Dense bf16 peak FLOP/s of the device: given, looked up by GPU name, or None (CPU, unknown)."""
    import torch

    if given_tflops:
        return given_tflops * 1e12
    if not device.startswith("cuda"):
        return None
    gpu = torch.cuda.get_device_name(torch.device(device))
    return next((peak for key, peak in BF16_PEAK if key in gpu), None)


def random_batch(model, batch_size: int, source_tokens: int, target_tokens: int, device: str,
                 seed: int = 0) -> dict:
    """Token ids and labels of fixed lengths (no padding), the same for every method."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    vocab = model.config.vocab_size

    def ids(length):
        return torch.randint(3, vocab, (batch_size, length), generator=generator).to(device)

    source = ids(source_tokens)
    return {"input_ids": source, "attention_mask": torch.ones_like(source),
            "labels": ids(target_tokens)}


def measure(template, pristine, method: str, args, device: str, peak_flops: float | None) -> Row:
    """Apply ``method`` to a fresh copy of the shape's weights and time and account its step."""
    import torch

    from peftlab.memory import training_step_memory
    from peftlab.methods import apply_method, count_parameters

    lab = copy.copy(template)
    lab.model = copy.deepcopy(pristine)
    model = apply_method(lab, method)
    model.train()
    params = count_parameters(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    cuda = device.startswith("cuda")
    optimizer = torch.optim.AdamW(trainable, lr=1e-6, fused=cuda)
    autocast = torch.bfloat16 if cuda else None
    batch = random_batch(model, args.batch_size, args.source_tokens, args.target_tokens, device)
    memory = training_step_memory(model, optimizer, batch, autocast_dtype=autocast)
    forward_flops, backward_flops = counted_flops(model, batch, autocast)
    flops = forward_flops + backward_flops

    def one_step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.split(":")[0], dtype=autocast, enabled=autocast is not None):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        one_step()
    if cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(args.steps):
        one_step()
    if cuda:
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - started) / args.steps
    tokens = args.batch_size * (args.source_tokens + args.target_tokens)
    row = Row(shape=template.name, method=method, device=device,
              trainable_params=params.trainable, total_params=params.total,
              batch_size=args.batch_size, tokens_per_step=tokens, step_seconds=seconds,
              tokens_per_second=tokens / seconds, flops_per_step=flops,
              flops_over_forward=flops / forward_flops,
              mfu=flops / seconds / peak_flops if peak_flops else None,
              weights=memory.weights, gradients=memory.gradients, optimizer=memory.optimizer,
              activations=memory.activations, other=memory.other, peak=memory.peak,
              memory_kind=memory.kind, ratio=memory.ratio)
    return row


COLUMNS = [
    ("shape", "shape", "s"), ("method", "method", "s"), ("trainable_params", "trainable", ",d"),
    ("step_ms", "step ms", ".1f"), ("tokens_per_second", "tokens/s", ",.0f"),
    ("weights_mb", "weights MB", ",.1f"), ("gradients_mb", "grads MB", ",.1f"),
    ("optimizer_mb", "optimizer MB", ",.1f"), ("activations_mb", "activations MB", ",.1f"),
    ("other_mb", "other MB", ",.1f"), ("peak_mb", "peak MB", ",.1f"),
    ("ratio", f"÷ weights (rule {RULE_OF_THUMB})", ".2f"), ("gflops", "GFLOP/step", ",.1f"),
    ("flops_over_forward", "step ÷ fwd", ".2f"), ("mfu_percent", "MFU %", ".1f"),
]


def table(rows: list[Row]) -> str:
    """The rows as a markdown table ("–" where a figure does not exist, e.g. MFU on CPU)."""
    from peftlab.results import markdown_table

    return markdown_table(rows, COLUMNS)


def default_shapes(device: str) -> list[str]:
    """tiny-t5 on CPU; the base shape on CUDA, and the large shape when its memory is free."""
    import torch

    if not device.startswith("cuda"):
        return [TINY]
    free_gib = torch.cuda.mem_get_info()[0] / 2**30
    if free_gib >= LARGE_MIN_FREE_GIB:
        return [BASE, LARGE]
    print(f"{LARGE} skipped: {free_gib:.0f} GiB of CUDA memory free, it needs "
          f"{LARGE_MIN_FREE_GIB}", file=sys.stderr)
    return [BASE]


def parse_args(argv=None, cuda: bool = False):
    """Command-line options; the defaults depend on whether CUDA is there."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", choices=(TINY, BASE, LARGE), default=None,
                        help="default: tiny-t5 on CPU; base (and large if memory allows) on CUDA")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--batch-size", type=int, default=16 if cuda else 8)
    parser.add_argument("--source-tokens", type=int, default=256 if cuda else 128,
                        help="encoder tokens per example (a DialogSum prompt is ~200)")
    parser.add_argument("--target-tokens", type=int, default=64 if cuda else 32,
                        help="decoder tokens per example (a summary)")
    parser.add_argument("--steps", type=int, default=10 if cuda else 5, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3 if cuda else 1,
                        help="untimed steps after the two of the memory measurement")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the GPU's dense bf16 peak, when its name is not known here")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    import torch

    cuda = torch.cuda.is_available()
    args = parse_args(argv, cuda)
    device = "cuda" if cuda else "cpu"
    peak = bf16_peak(device, args.peak_tflops)
    name = torch.cuda.get_device_name() if cuda else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; bf16 peak: {f'{peak / 1e12:.0f} TFLOP/s' if peak else '–'}; "
          f"batch {args.batch_size} x ({args.source_tokens} + {args.target_tokens}) tokens; "
          f"{args.steps} timed steps", flush=True)
    started = time.perf_counter()
    rows = []
    for shape in args.shapes or default_shapes(device):
        template = load_shape(shape, device)
        pristine = template.model
        for method in args.methods:
            rows.append(measure(template, pristine, method, args, device, peak))
            if cuda:
                torch.cuda.empty_cache()  # the method's copy is gone: give its blocks back
            print(f"{shape} {method}: {rows[-1].step_seconds * 1e3:.1f} ms/step", file=sys.stderr,
                  flush=True)
        del template, pristine
    print(table(rows))
    how = ("activations = peak allocated in forward and backward minus the other parts" if cuda
           else "activations = tensors saved for backward")
    print(f"\nmemory: weights, gradients, optimizer state counted from the tensors; {how}; "
          f"÷ weights: the parts' sum over the weights (course rule for full fine-tuning: "
          f"{RULE_OF_THUMB}).")
    print("FLOPs: counted over one forward and backward (6·N·tokens when the weights train, "
          "~4·N·tokens when they are frozen); MFU: FLOPs per second over the GPU's dense bf16 peak.")
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
