"""QLoRA's frozen base: 4-bit NormalFloat (NF4) blockwise quantisation of linear weights, on CPU.

Dettmers, Pagnoni, Holtzman and Zettlemoyer (2023), *QLoRA: Efficient Finetuning of Quantized
LLMs* (arXiv:2305.14314), store the frozen base model in NF4 and train LoRA adapters on top:

* **The code book** (:func:`nf4_code`): 16 values that are quantiles of N(0, 1) normalised to
  [-1, 1], so that a normally distributed weight falls into each bin about equally often. With an
  even number of codes a symmetric set has no exact 0, so the paper takes 8 quantiles for the
  positive half and 7 for the negative half (probabilities from ``offset`` down to 1/2), joins
  them with one 0 and divides by the largest magnitude.
* **Blockwise absmax** (:func:`quantize_blockwise`): the weights are cut into blocks of 64; each
  block is divided by its largest magnitude (its *absmax*, one scale per block, so one outlier
  only spoils its own block) and each value is stored as the index of the nearest code.
* **Storage**: two 4-bit indices per byte, plus the block scales. The paper also quantises the
  scales themselves to 8 bits ("double quantisation", 0.127 instead of 0.5 bits per weight); here
  they stay fp32 so that dequantising is one multiplication the exercise can check exactly: 4.5
  bits per weight in all.
* :class:`NF4Linear` keeps only that and dequantises in ``forward``: the weights it computes with
  are the rounded ones, and nothing of the base can train. peft's LoRA wraps it like any
  ``nn.Linear`` (it subclasses it), so adapters train on the quantised frozen base.

On a CUDA machine bitsandbytes' ``Linear4bit`` does the same with fused kernels (and double
quantisation); this module is the from-scratch CPU version the course measures.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from peftlab.errors import PeftlabError
from peftlab.memory import model_bytes

BLOCK_SIZE = 64  # weights per absmax scale, as in the paper
CODE_BITS = 4
SKIP = ("lm_head",)  # tied to the input embeddings in the course's models: left in full precision


def nf4_offset(bits: int = CODE_BITS) -> float:
    """The largest probability whose normal quantile becomes the code 1.0.

    The paper's choice: the mean of ``1 - 1/(2·(2^bits - 1))`` and ``1 - 1/(2·2^bits)``
    (0.9677 for 4 bits), which keeps the outermost quantile finite.
    """
    n = 2 ** bits
    return 0.5 * ((1 - 1 / (2 * (n - 1))) + (1 - 1 / (2 * n)))


def nf4_code(bits: int = CODE_BITS) -> torch.Tensor:
    """The NormalFloat code book: ``2**bits`` sorted fp32 values in [-1, 1] with an exact 0.

    ``2^(bits-1)`` quantiles of N(0, 1) for the positive side and ``2^(bits-1) - 1`` for the
    negative side, at probabilities evenly spaced from :func:`nf4_offset` to 1/2 (the 1/2 itself
    dropped), then 0, all divided by the largest value.
    """
    half = 2 ** (bits - 1)
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64),
                                        torch.tensor(1.0, dtype=torch.float64))
    offset = nf4_offset(bits)
    positive = normal.icdf(torch.linspace(offset, 0.5, half + 1, dtype=torch.float64)[:-1])
    negative = -normal.icdf(torch.linspace(offset, 0.5, half, dtype=torch.float64)[:-1])
    values = torch.cat([positive, torch.zeros(1, dtype=torch.float64), negative])
    return (values / values.max()).sort().values.to(torch.float32)


def _blocks(weight: torch.Tensor, block_size: int) -> torch.Tensor:
    """``weight`` flattened into rows of ``block_size`` (the last one padded with zeros)."""
    if block_size < 1:
        raise PeftlabError(f"block_size must be a positive number of weights, got {block_size}")
    flat = weight.detach().reshape(-1).to(torch.float32)
    pad = -flat.numel() % block_size
    return F.pad(flat, (0, pad)).view(-1, block_size)


def quantize_blockwise(weight: torch.Tensor, code: torch.Tensor | None = None,
                       block_size: int = BLOCK_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """Blockwise absmax quantisation of ``weight`` (any shape, read flattened) to ``code``.

    Notebook 3's exercise 13 (``nf4_quantize``) asks for this, with the same arguments.

    Args:
        weight: the float tensor to quantise; blocks are consecutive runs of its flattened values.
        code: sorted code book (default: :func:`nf4_code`).
        block_size: weights per block (the last block may be shorter).

    Returns:
        ``(indices, absmax)``: for every weight the int64 index of the nearest code to
        ``weight / absmax`` of its block (ties go to the lower code), and each block's largest
        magnitude (fp32). An all-zero block has absmax 0 and every index at the code 0.
    """
    code = nf4_code() if code is None else code.to(torch.float32)
    blocks = _blocks(weight, block_size)
    absmax = blocks.abs().amax(dim=1)
    safe = torch.where(absmax > 0, absmax, torch.ones_like(absmax))  # 0/0 would be NaN
    scaled = blocks / safe[:, None]
    # the nearest code is the bin between midpoints of neighbouring codes (a 16x smaller search
    # than comparing every weight with every code); a tie at a midpoint goes to the lower code
    indices = torch.bucketize(scaled, (code[1:] + code[:-1]) / 2)
    return indices.reshape(-1)[: weight.numel()], absmax


def dequantize_blockwise(indices: torch.Tensor, absmax: torch.Tensor, shape: torch.Size | tuple,
                         block_size: int = BLOCK_SIZE,
                         code: torch.Tensor | None = None) -> torch.Tensor:
    """The fp32 tensor of ``shape`` that :func:`quantize_blockwise`'s output stands for:
    ``code[index] · absmax`` of each weight's block."""
    code = nf4_code() if code is None else code.to(torch.float32)
    return _scaled(code.to(absmax.device)[indices.long()], absmax, shape, block_size)


def _scaled(values: torch.Tensor, absmax: torch.Tensor, shape, block_size: int) -> torch.Tensor:
    """Flat code values times their block's absmax, as a tensor of ``shape``."""
    numel = values.numel()
    pad = -numel % block_size
    blocks = (F.pad(values, (0, pad)) if pad else values).view(-1, block_size)
    return (blocks * absmax[:, None]).reshape(-1)[:numel].view(shape)


def byte_table(code: torch.Tensor) -> torch.Tensor:
    """(256, 2): the two code values a packed byte stands for (high nibble first), so that
    dequantising a packed tensor is one lookup per byte instead of shifts and two lookups."""
    return torch.stack([code.repeat_interleave(len(code)), code.repeat(len(code))], dim=1)


def pack_nibbles(indices: torch.Tensor) -> torch.Tensor:
    """Two 4-bit indices per byte: the even positions in the high nibble (an odd count is padded)."""
    flat = indices.reshape(-1)
    if flat.numel() and not 0 <= int(flat.min()) <= int(flat.max()) <= 15:
        raise PeftlabError("pack_nibbles takes indices 0..15 (a 4-bit code book): quantise with "
                           "a 16-value code")
    flat = F.pad(flat.to(torch.uint8), (0, flat.numel() % 2))
    return (flat[0::2] << 4) | flat[1::2]


def unpack_nibbles(packed: torch.Tensor, numel: int) -> torch.Tensor:
    """The first ``numel`` 4-bit indices of :func:`pack_nibbles`' bytes, as int64."""
    pairs = torch.stack([packed >> 4, packed & 0x0F], dim=1)
    return pairs.reshape(-1)[:numel].long()


class _DequantizingMatmul(torch.autograd.Function):
    """``x @ W.T`` for an :class:`NF4Linear`, dequantising ``W`` in the forward and again in the
    backward: autograd keeps a reference to the layer, never the fp32 weight, so training holds
    the base in 4 bits (bitsandbytes' 4-bit matmul does the same)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, layer: NF4Linear) -> torch.Tensor:
        ctx.layer = layer
        return F.linear(x, layer.dequantized_weight().to(x.dtype))

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        weight = ctx.layer.dequantized_weight().to(grad_output.dtype)
        return grad_output @ weight, None  # the codes get no gradient: the base is frozen


class NF4Linear(nn.Linear):
    """A frozen linear layer stored in NF4: packed 4-bit indices plus one fp32 absmax per block.

    It subclasses ``nn.Linear`` so that peft's LoRA wraps it as any linear layer, but it holds no
    full-precision weight: as in bitsandbytes' ``Linear4bit``, ``weight`` is the packed uint8
    buffer (two indices a byte; peft reads its device, and an attempt to merge an adapter into it
    fails loudly on the dtype), and with ``absmax`` that is all there is; ``forward``
    dequantises them into the input's dtype for one ``F.linear``. The bias, if any, stays in full
    precision and frozen. Gradients reach the input (and LoRA adapters around the layer) through
    :class:`_DequantizingMatmul`, which dequantises again in the backward pass instead of keeping
    the fp32 weight for it.
    """

    def __init__(self, linear: nn.Linear, block_size: int = BLOCK_SIZE,
                 code: torch.Tensor | None = None):
        nn.Module.__init__(self)  # not nn.Linear.__init__: it would allocate a full weight
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.block_size = block_size
        weight = linear.weight.detach()
        code = nf4_code() if code is None else code
        indices, absmax = quantize_blockwise(weight, code, block_size)
        self.register_buffer("weight", pack_nibbles(indices).to(weight.device))
        self.register_buffer("absmax", absmax.to(weight.device))
        self.register_buffer("code", code.to(weight.device), persistent=False)
        bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(),
                                                              requires_grad=False)
        self.register_parameter("bias", bias)

    def dequantized_weight(self) -> torch.Tensor:
        """The (out_features, in_features) fp32 weight this layer computes with."""
        numel = self.out_features * self.in_features
        values = byte_table(self.code).index_select(0, self.weight.int()).reshape(-1)[:numel]
        return _scaled(values, self.absmax, (self.out_features, self.in_features), self.block_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = _DequantizingMatmul.apply(x, self)
        return out if self.bias is None else out + self.bias.to(out.dtype)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, nf4 block_size={self.block_size}")


@dataclass(frozen=True)
class Quantized:
    """What :func:`quantize_linear_layers` did to a model.

    Attributes:
        layers: how many ``nn.Linear`` layers became :class:`NF4Linear`.
        weights: how many weights those layers hold.
        bytes_before / bytes_after: the model's parameter and buffer bytes (shared tensors once).
    """

    layers: int
    weights: int
    bytes_before: int
    bytes_after: int

    @property
    def saved_fraction(self) -> float:
        """The share of the model's bytes the quantisation removed."""
        return 1 - self.bytes_after / self.bytes_before


def quantize_linear_layers(model: nn.Module, skip: tuple[str, ...] = SKIP,
                           block_size: int = BLOCK_SIZE) -> Quantized:
    """Replace every ``nn.Linear`` of ``model`` in place by an :class:`NF4Linear`.

    Layers a transformers model keeps in full precision when it is quantised
    (``_keep_in_fp32_modules``: T5's feed-forward output ``wo``, whose forward reads its
    ``weight`` dtype) are skipped too, as transformers' own 4-bit loading does.

    Args:
        model: a torch model with no adapters yet (quantise first, then apply LoRA).
        skip: layers whose name (or any part of its dotted path) is listed stay as they are.
        block_size: weights per absmax scale.

    Returns:
        :class:`Quantized` with the counts and the model's bytes before and after.
    """
    if getattr(model, "peft_config", None):
        raise PeftlabError("quantize_linear_layers needs the base model: quantise it before "
                           "applying LoRA (or reload the model)")
    skip = tuple(skip) + tuple(getattr(model, "_keep_in_fp32_modules", None) or ())
    before = model_bytes(model)
    targets = [(name, module) for name, module in model.named_modules()
               if type(module) is nn.Linear and not set(name.split(".")) & set(skip)]
    if not targets:
        raise PeftlabError(f"no nn.Linear layers to quantise in {type(model).__name__} "
                           f"(skip={skip!r}; already quantised?)")
    code = nf4_code()  # one tensor that every layer shares
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, NF4Linear(module, block_size, code))
    return Quantized(layers=len(targets), weights=sum(m.weight.numel() for _, m in targets),
                     bytes_before=before, bytes_after=model_bytes(model))
