"""peftlab.memory.training_step_memory: a training step's memory, split into its parts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from peftlab.memory import SavedTensors, tensor_bytes, training_step_memory

FP32 = 4


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
