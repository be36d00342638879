"""peftlab.memory: the byte model, the estimate per method, and a training step's memory measured
part by part."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from peftlab.memory import (
    SavedTensors,
    byte_parts,
    bytes_per_parameter,
    tensor_bytes,
    times_weights,
    training_memory_estimate,
    training_memory_gb,
    training_step_memory,
)

FP32 = 4
BILLION = 1_000_000_000


# ------------------------------------------------------------------ the byte model


def test_fp32_adam_is_24_bytes_per_parameter_six_times_the_weights():
    """Do 4 weights + 4 gradients + 8 Adam + 8 activations make 24 B, 6x the fp32 weights?"""
    assert [(p.name, p.low) for p in byte_parts("fp32")] == [
        ("weights", 4), ("gradients", 4), ("optimizer", 8), ("activations", 8)]
    assert bytes_per_parameter("fp32") == (24, 24)
    assert times_weights("fp32") == (6.0, 6.0)


def test_mixed_precision_is_24_to_40_bytes_12_to_20_times_the_16_bit_weights():
    """Does mixed precision keep 2 + 2 + a 4-byte fp32 master copy + 8 + 8-24 = 24-40 B, which is
    12-20x the 16-bit weights but only 6-10x in the fp32 frame?"""
    parts = {p.name: p for p in byte_parts("mixed")}
    assert parts["master"].low == 4 and parts["master"].trainable_only
    assert (parts["activations"].low, parts["activations"].high) == (8, 24)
    assert bytes_per_parameter("mixed") == (24, 40)
    assert times_weights("mixed") == (12.0, 20.0)
    assert times_weights("mixed", frame="fp32") == (6.0, 10.0)


def test_estimate_of_full_fine_tuning_in_both_frames():
    """Does 1B parameters need 24 GB in fp32 (4 GB of weights) and 24 GB in mixed precision with
    2 GB of weights and a 4 GB master copy (40 GB at 24 B of activations per parameter)?"""
    fp32 = training_memory_estimate(BILLION)
    assert fp32.as_gb() == {"weights": 4.0, "gradients": 4.0, "master": 0.0, "optimizer": 8.0,
                            "activations": 8.0, "total": 24.0}
    mixed = training_memory_estimate(BILLION, precision="mixed")
    assert mixed.as_gb() == {"weights": 2.0, "gradients": 2.0, "master": 4.0, "optimizer": 8.0,
                             "activations": 8.0, "total": 24.0}
    assert training_memory_estimate(BILLION, precision="mixed", activations=24 * BILLION).total \
        == 40 * BILLION


def test_exercise_4_reference_follows_the_table():
    """Does notebook 2's fallback for exercise 4 give the table's GB: 24 (fp32), 24-40 (mixed,
    with the 4 GB master copy) for 1B parameters?"""
    assert training_memory_gb(BILLION) == training_memory_estimate(BILLION).as_gb()
    mixed = training_memory_gb(BILLION, "mixed")
    assert (mixed["weights"], mixed["master"], mixed["total"]) == (2.0, 4.0, 24.0)
    assert training_memory_gb(BILLION, "mixed", activation_bytes=24)["total"] == 40.0


@pytest.mark.parametrize("precision,per_trainable", [("fp32", 4 + 8), ("mixed", 2 + 4 + 8)])
def test_estimate_per_method_scales_with_the_trainable_count(precision, per_trainable):
    """Under a PEFT method, do gradients, master copy and Adam state scale with the trainable
    count while frozen weights cost only their storage and activations do not change?"""
    total = 135_000_000
    lora = training_memory_estimate(total, 1_000_000, precision)
    lora2 = training_memory_estimate(total, 2_000_000, precision)
    full = training_memory_estimate(total, precision=precision)
    frozen = training_memory_estimate(total, 0, precision)
    assert lora.gradients + lora.master + lora.optimizer == 1_000_000 * per_trainable
    assert lora2.gradients + lora2.master + lora2.optimizer == 2 * (
        lora.gradients + lora.master + lora.optimizer)
    assert lora.weights == lora2.weights == full.weights == frozen.weights
    assert lora.activations == full.activations
    assert frozen.total == frozen.weights + frozen.activations
    assert full.total - lora.total == (total - 1_000_000) * per_trainable


def test_estimate_rejects_what_the_model_cannot_be():
    """Do an unknown precision and more trainable than total parameters fail, naming the value?"""
    with pytest.raises(ValueError, match="'int4'"):
        training_memory_estimate(10, precision="int4")
    with pytest.raises(ValueError, match="trainable_params 11"):
        training_memory_estimate(10, 11)


# ------------------------------------------------------------------ one step, measured


def mlp() -> nn.Sequential:
    """8 -> 16 -> 4 with a ReLU: 212 fp32 weights in four tensors."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


def squares(model, batch):
    return model(batch["x"]).pow(2).sum()


def step(model, batch_size: int = 5):
    optimizer = torch.optim.Adam(model.parameters())
    return training_step_memory(model, optimizer, {"x": torch.randn(batch_size, 8)}, loss_fn=squares)


def test_fp32_adam_keeps_two_copies_of_the_weights():
    """With every weight training, are gradients one copy of the weights and Adam's state two
    (plus its fp32 step counter per tensor), counted exactly?"""
    model = mlp()
    weight_bytes = 212 * FP32
    mem = step(model)
    assert mem.weights == weight_bytes
    assert mem.gradients == weight_bytes
    assert mem.optimizer == 2 * weight_bytes + 4 * FP32
    assert mem.kind == "saved_tensors" and mem.peak is None and mem.other == 0
    assert mem.weights_by_dtype == {"float32": weight_bytes}
    assert mem.as_gb() == {"weights": weight_bytes / 1e9, "gradients": weight_bytes / 1e9,
                           "optimizer": mem.optimizer / 1e9, "activations": mem.activations / 1e9}


def test_frozen_weights_cost_no_gradient_or_optimizer_bytes():
    """Handed to the optimizer but frozen, do the first layer's weights still count as weights but
    get neither gradients nor optimizer state?"""
    model = mlp()
    model[0].requires_grad_(False)
    trainable_bytes = (16 * 4 + 4) * FP32
    mem = step(model)
    assert mem.weights == 212 * FP32
    assert mem.gradients == trainable_bytes
    assert mem.optimizer == 2 * trainable_bytes + 2 * FP32


def test_activations_are_the_tensors_saved_for_backward():
    """On CPU, are the activations exactly the input, the hidden layer and the output that
    backward needs, each once (the hidden layer is saved by ReLU and by the second layer), the
    weights left out, and do they double with the batch?"""
    per_example = (8 + 16 + 4) * FP32
    assert step(mlp(), batch_size=5).activations == 5 * per_example
    assert step(mlp(), batch_size=10).activations == 10 * per_example


def test_a_frozen_first_layer_needs_no_saved_input():
    """When the first layer is frozen, does backward keep no copy of the input (no weight gradient
    needs it), so the activations shrink by exactly the input?"""
    model = mlp()
    model[0].requires_grad_(False)
    assert step(model, batch_size=5).activations == 5 * (16 + 4) * FP32


def test_total_and_ratio_add_the_parts():
    """Is the total the sum of the parts and the ratio that total over the weights?"""
    mem = step(mlp())
    assert mem.total == mem.weights + mem.gradients + mem.optimizer + mem.activations
    assert mem.ratio == pytest.approx(mem.total / mem.weights)


def test_shared_storage_counts_once():
    """Do a tensor met twice and two views of one storage each count once?"""
    base = torch.zeros(10)
    assert tensor_bytes([base, base]) == 10 * FP32
    saved = SavedTensors()
    saved.pack(base[:5])
    saved.pack(base[5:])
    assert saved.bytes == 10 * FP32


def test_lora_on_tiny_t5_trains_only_the_adapters(tiny_t5):
    """Under LoRA, are gradients and optimizer state those of the adapter weights alone, while the
    frozen base model still counts in full as weights?"""
    from conftest import batch_for

    from peftlab.methods import apply_method

    model = apply_method(tiny_t5, "lora")
    model.train()
    adapters = [p for p in model.parameters() if p.requires_grad]
    adapter_bytes = sum(p.numel() for p in adapters) * FP32
    optimizer = torch.optim.AdamW(adapters)
    mem = training_step_memory(model, optimizer, batch_for(tiny_t5))
    assert mem.weights == sum(p.numel() for p in model.parameters()) * FP32
    assert mem.gradients == adapter_bytes < mem.weights / 4
    assert mem.optimizer == 2 * adapter_bytes + len(adapters) * FP32
    assert mem.activations > 0


def test_weights_are_split_by_dtype():
    """With one layer kept in bf16, are the weights split by dtype, each counted exactly?"""
    model = mlp()
    model[2].to(torch.bfloat16)
    mem = training_step_memory(model, torch.optim.Adam(model.parameters()),
                               {"x": torch.randn(5, 8)},
                               loss_fn=lambda m, b: m[2](m[1](m[0](b["x"])).bfloat16()).sum())
    assert mem.weights_by_dtype == {"float32": (8 * 16 + 16) * FP32, "bfloat16": (16 * 4 + 4) * 2}
    assert mem.weights == sum(mem.weights_by_dtype.values())


def test_measuring_without_update_leaves_the_weights_alone():
    """With Adam's state already there, does ``update=False`` count that state and the gradients
    of the step yet leave the weights (and the state) as they were and drop the gradients?"""
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters())
    batch = {"x": torch.randn(5, 8)}
    training_step_memory(model, optimizer, batch, loss_fn=squares)  # real steps: Adam's state
    before = [p.detach().clone() for p in model.parameters()]
    state = [t.clone() for t in optimizer.state[model[0].weight].values()]
    mem = training_step_memory(model, optimizer, batch, loss_fn=squares, update=False)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(state, optimizer.state[model[0].weight].values()))
    assert all(p.grad is None for p in model.parameters())
    assert mem.gradients == 212 * FP32 and mem.optimizer == 2 * 212 * FP32 + 4 * FP32


@pytest.mark.parametrize("method", ["full", "lora"])
def test_a_training_run_records_its_step_memory(method, tiny_llama, mini):
    """Does train() record one step of the run split into parts, with gradients and Adam state
    those of the trainable weights exactly (as the estimate from the counts says), and does the
    comparison row carry the parts?"""
    from peftlab.methods import count_parameters
    from peftlab.results import ComparisonRow
    from peftlab.training import train

    run = train(tiny_llama, method, mini, max_steps=2, batch_size=4, limit=8, max_length=128,
                progress=False)
    counts = count_parameters(tiny_llama.model)
    trainable = [p for p in tiny_llama.model.parameters() if p.requires_grad]
    mem = run.costs.step_memory
    estimate = training_memory_estimate(counts.total, counts.trainable, activations=mem.activations)
    assert mem.weights == estimate.weights == counts.total * FP32
    assert mem.gradients == estimate.gradients == counts.trainable * FP32
    assert mem.optimizer == estimate.optimizer + len(trainable) * FP32  # + a step count per tensor
    assert mem.activations > 0 and mem.kind == "saved_tensors"
    row = ComparisonRow.of(method, run=run)
    assert row.memory_gb == mem.as_gb()
    assert row.step_memory_gb == pytest.approx(sum(mem.as_gb().values()))
    assert ComparisonRow(method).memory_gb == {} and ComparisonRow(method).step_memory_gb is None
