"""NF4 quantisation (QLoRA's frozen base): the code book, the round trip, the storage, a quantised
model, and LoRA trained on top of it."""

from __future__ import annotations

import pytest
import torch

from peftlab.errors import PeftlabError
from peftlab.methods import apply_method
from peftlab.models import load_model
from peftlab.quantization import (
    NF4Linear,
    dequantize_blockwise,
    nf4_code,
    pack_nibbles,
    quantize_blockwise,
    quantize_linear_layers,
    unpack_nibbles,
)

# The NF4 values published with QLoRA (Dettmers et al. 2023, appendix E; bitsandbytes' table).
PUBLISHED_NF4 = (
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0,
)


def test_code_book_is_the_published_nf4_table():
    """Does the code computed from the paper's quantile formula give the published 16 values?"""
    code = nf4_code()
    assert code.dtype == torch.float32 and code.shape == (16,)
    assert torch.allclose(code, torch.tensor(PUBLISHED_NF4), atol=1e-6)
    assert (code == 0).sum() == 1 and code.min() == -1 and code.max() == 1


def test_a_symmetric_quantile_code_is_not_nf4():
    """Would the naive symmetric 16 quantiles (no exact zero) be told apart from the table?"""
    normal = torch.distributions.Normal(0.0, 1.0)
    naive = normal.icdf(torch.linspace(0.03, 0.97, 16))
    naive = naive / naive.abs().max()
    assert not torch.allclose(naive, torch.tensor(PUBLISHED_NF4), atol=1e-3)
    assert not (naive == 0).any()


def _max_half_gap(code: torch.Tensor) -> float:
    return float(code.diff().max()) / 2


@pytest.mark.parametrize("shape,block_size", [((8, 64), 64), ((3, 100), 64), ((5, 7), 16)])
def test_round_trip_error_is_at_most_half_the_largest_gap_of_its_block(shape, block_size):
    """Is every weight within half the largest gap between its block's scaled codes after a round
    trip, also with a short last block?"""
    torch.manual_seed(0)
    weight = torch.randn(shape) * 0.02
    indices, absmax = quantize_blockwise(weight, block_size=block_size)
    assert indices.shape == (weight.numel(),) and absmax.shape == (-(-weight.numel() // block_size),)
    back = dequantize_blockwise(indices, absmax, shape, block_size)
    per_weight = absmax.repeat_interleave(block_size)[: weight.numel()].view(shape)
    assert ((weight - back).abs() <= per_weight * _max_half_gap(nf4_code()) + 1e-7).all()
    # the largest magnitude of every block is represented exactly (code ±1)
    blocks = torch.nn.functional.pad(weight.reshape(-1), (0, -weight.numel() % block_size))
    peaks = blocks.view(-1, block_size).abs().argmax(dim=1) + torch.arange(len(absmax)) * block_size
    assert torch.allclose(back.reshape(-1)[peaks], weight.reshape(-1)[peaks])


def test_round_trip_picks_the_nearest_code():
    """Is each index the nearest code, not merely a close one (a truncating rounding would fail)?"""
    torch.manual_seed(1)
    weight = torch.randn(4, 64)
    indices, absmax = quantize_blockwise(weight)
    scaled = weight.view(-1, 64) / absmax[:, None]
    distances = (scaled.reshape(-1)[:, None] - nf4_code()).abs()
    chosen = distances.gather(1, indices[:, None]).squeeze(1)
    assert torch.equal(chosen, distances.min(dim=1).values)
    assert not torch.equal(indices, torch.bucketize(scaled.reshape(-1), nf4_code()))


def test_nf4_rounds_normal_weights_better_than_evenly_spaced_levels():
    """On normally distributed weights, is NF4's round trip closer than 16 evenly spaced levels'
    (the point of placing the codes at normal quantiles)?"""
    torch.manual_seed(4)
    weight = torch.randn(128, 64)

    def relative_error(code):
        indices, absmax = quantize_blockwise(weight, code)
        back = dequantize_blockwise(indices, absmax, weight.shape, code=code)
        return float((back - weight).norm() / weight.norm())

    nf4, uniform = relative_error(nf4_code()), relative_error(torch.linspace(-1, 1, 16))
    assert nf4 < 0.95 * uniform, (nf4, uniform)  # 0.092 vs 0.101 measured


def test_an_all_zero_block_quantises_to_zero_without_nan():
    """Does a block of zeros get absmax 0 and the code 0, with no division by zero?"""
    weight = torch.cat([torch.zeros(64), torch.linspace(-1, 1, 64)])
    indices, absmax = quantize_blockwise(weight)
    assert absmax[0] == 0 and (nf4_code()[indices[:64]] == 0).all()
    back = dequantize_blockwise(indices, absmax, weight.shape)
    assert torch.isfinite(back).all() and (back[:64] == 0).all()


def test_packing_stores_two_indices_a_byte():
    """Do 4-bit indices pack two to a uint8 and unpack to the same values (odd counts too)?"""
    indices = torch.tensor([0, 15, 7, 8, 1, 14, 3])
    packed = pack_nibbles(indices)
    assert packed.dtype == torch.uint8 and packed.numel() == 4
    assert packed[0] == 0x0F
    assert torch.equal(unpack_nibbles(packed, 7), indices)
    with pytest.raises(PeftlabError, match="0..15"):
        pack_nibbles(torch.tensor([3, 16]))
    with pytest.raises(PeftlabError, match="block_size"):
        quantize_blockwise(torch.ones(8), block_size=0)


def test_nf4_linear_storage_is_half_a_byte_a_weight_plus_the_scales():
    """Does an NF4Linear hold ~0.5 byte a weight plus 4 bytes per block, and no float weight?"""
    linear = torch.nn.Linear(256, 128, bias=False)
    layer = NF4Linear(linear)
    n = 256 * 128
    assert layer.weight.dtype == torch.uint8 and layer.weight.numel() == n // 2
    assert layer.absmax.dtype == torch.float32 and layer.absmax.numel() == n // 64
    state = layer.state_dict()
    assert set(state) == {"weight", "absmax"}
    stored = sum(t.numel() * t.element_size() for t in state.values())
    assert stored == n // 2 + 4 * n // 64  # 4.5 bits a weight
    assert stored / (n * 4) < 0.15
    assert not any(p.requires_grad for p in layer.parameters())


@pytest.mark.parametrize("d_in,d_out,block_size", [(64, 32, 64), (7, 5, 16)])
def test_nf4_linear_computes_with_the_dequantised_weight(d_in, d_out, block_size):
    """Is an NF4Linear's output that of nn.Linear with the rounded weight (and the same bias),
    also when the weights fill neither whole bytes nor whole blocks?"""
    torch.manual_seed(2)
    linear = torch.nn.Linear(d_in, d_out)
    layer = NF4Linear(linear, block_size)
    x = torch.randn(3, 5, d_in)
    indices, absmax = quantize_blockwise(linear.weight, block_size=block_size)
    rounded = dequantize_blockwise(indices, absmax, linear.weight.shape, block_size)
    expected = torch.nn.functional.linear(x, rounded, linear.bias)
    assert torch.allclose(layer(x), expected, atol=1e-6)
    assert not torch.allclose(layer(x), linear(x), atol=1e-6)  # quantisation did round


def test_backward_reaches_the_input_without_keeping_the_float_weight():
    """Does the gradient reach the input as through nn.Linear with the rounded weight, while
    autograd keeps no tensor of the weight's size (nn.Linear on the rounded weight keeps one)?"""
    torch.manual_seed(3)
    layer = NF4Linear(torch.nn.Linear(128, 64, bias=True))
    rounded = layer.dequantized_weight()
    x = torch.randn(2, 3, 128, requires_grad=True)

    def saved_sizes(forward):
        sizes = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: sizes.append(t.numel()) or t,
                                                      lambda t: t):
            out = forward()
        return out, sizes

    out, sizes = saved_sizes(lambda: layer(x))
    assert rounded.numel() not in sizes
    grad = torch.randn_like(out)
    (got,) = torch.autograd.grad(out, x, grad)
    plain = x.detach().clone().requires_grad_()
    reference, plain_sizes = saved_sizes(
        lambda: torch.nn.functional.linear(plain, rounded.requires_grad_(), layer.bias))
    assert rounded.numel() in plain_sizes  # the check can see a kept weight
    (expected,) = torch.autograd.grad(reference, plain, grad)
    assert torch.allclose(out, reference, atol=1e-6) and torch.allclose(got, expected, atol=1e-5)


@pytest.fixture
def tiny():
    lab = load_model("tiny-t5")
    lab.model.eval()
    return lab


def _logits(lab, batch):
    with torch.no_grad():
        return lab.model(**batch).logits


def _batch(lab):
    encoded = lab.tokenizer(["#Person1#: hello there. #Person2#: hi, how are you?"],
                            return_tensors="pt")
    return {**encoded, "decoder_input_ids": torch.zeros(1, 4, dtype=torch.long)}


def test_quantised_tiny_model_stays_close_and_shrinks(tiny):
    """Does quantising tiny-t5's linear layers shrink them ~7x and keep its logits close?"""
    batch = _batch(tiny)
    before = _logits(tiny, batch)
    result = quantize_linear_layers(tiny.model)
    after = _logits(tiny, batch)
    kinds = {type(m).__name__ for n, m in tiny.model.named_modules() if n.endswith((".q", ".wo"))}
    assert kinds == {"NF4Linear", "Linear"}  # T5 keeps wo in full precision, as transformers does
    assert type(tiny.model.lm_head) is torch.nn.Linear
    assert result.layers > 0 and result.bytes_after < result.bytes_before
    saved = result.bytes_before - result.bytes_after
    assert saved == pytest.approx(result.weights * (4 - 0.5 - 4 / 64), rel=1e-3)
    # random weights amplify rounding through 4 blocks (0.21 measured); a real model moves less
    relative = (after - before).norm() / before.norm()
    assert 0 < relative < 0.3, f"relative logit change {relative:.3f}"


def test_quantising_twice_or_after_lora_is_refused(tiny):
    """Are a second quantisation and a quantisation under an adapter one clear error each?"""
    quantize_linear_layers(tiny.model, skip=("lm_head", "wo", "k", "o", "wi_0", "wi_1"))
    apply_method(tiny, "lora")
    with pytest.raises(PeftlabError, match="before applying LoRA"):
        quantize_linear_layers(tiny.model)
    fresh = load_model("tiny-t5")
    quantize_linear_layers(fresh.model)
    with pytest.raises(PeftlabError, match="no nn.Linear layers"):
        quantize_linear_layers(fresh.model)


def test_lora_trains_on_the_nf4_base(tiny):
    """With LoRA on the NF4 model, does a step train only A/B, leave the 4-bit codes and scales
    unchanged, and change the output?"""
    batch = _batch(tiny)
    quantize_linear_layers(tiny.model)
    apply_method(tiny, "lora", r=4, alpha=8)
    model = tiny.model
    nf4 = {n: (m.weight.clone(), m.absmax.clone()) for n, m in model.named_modules()
           if isinstance(m, NF4Linear)}
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    assert any(".q.base_layer" in n for n in nf4)  # peft wrapped the NF4 layers
    before = _logits(tiny, batch)
    model.train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    labels = torch.tensor([[5, 6, 7, 1]])
    model(**batch, labels=labels).loss.backward()
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)
    optimizer.step()
    model.eval()
    after = _logits(tiny, batch)
    assert not torch.allclose(before, after)
    for name, module in model.named_modules():
        if isinstance(module, NF4Linear):
            assert torch.equal(module.weight, nf4[name][0]), f"{name}'s codes changed"
            assert torch.equal(module.absmax, nf4[name][1]), f"{name}'s scales changed"
