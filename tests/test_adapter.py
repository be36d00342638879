"""peftlab.methods.adapter and peftlab.methods.taxonomy, and the three-class map of plots."""

from __future__ import annotations

import matplotlib
import pytest
import torch
from conftest import batch_for

from peftlab.errors import PeftlabError
from peftlab.methods import METHODS, count_parameters
from peftlab.methods import adapter as adapters
from peftlab.methods.taxonomy import PEFT_CLASSES, PLACEMENTS, Placement

matplotlib.use("Agg")


def test_a_fresh_adapter_is_the_identity_and_trains_its_count():
    """Does a new adapter return exactly its input, with 2·d·b + d + b trainable numbers?"""
    adapter = adapters.BottleneckAdapter(12, 3)
    x = torch.randn(2, 5, 12)
    assert torch.equal(adapter(x), x)
    trainable = sum(p.numel() for p in adapter.parameters() if p.requires_grad)
    assert trainable == adapters.param_count(12, 3) == 2 * 12 * 3 + 12 + 3
    with torch.no_grad():
        adapter.up.weight.fill_(0.5)
    assert not torch.equal(adapter(x), x), "a trained (non-zero) up changes the output"


@pytest.mark.parametrize("bottleneck", [0, -2])
def test_an_empty_bottleneck_is_refused_in_one_line(bottleneck):
    with pytest.raises(PeftlabError, match="bottleneck >= 1") as caught:
        adapters.BottleneckAdapter(8, bottleneck)
    assert "\n" not in str(caught.value)


def test_inserted_adapters_leave_the_model_unchanged_and_alone_train(tiny_lab):
    """After insert(), are the logits the same, and are the adapters all that trains?"""
    model, batch = tiny_lab.model, batch_for(tiny_lab)
    with torch.no_grad():
        before = model(**batch).logits
    total_before = count_parameters(model).total
    placed = adapters.insert(model, bottleneck=4)
    with torch.no_grad():
        after = model(**batch).logits
    assert placed and torch.equal(before, after)
    counted = count_parameters(model)
    expected = len(placed) * adapters.param_count(model.config.hidden_size, 4)
    assert counted.trainable == expected and counted.total == total_before + expected
    model(**batch).loss.backward()
    for name, param in model.named_parameters():
        assert (param.grad is not None) == (".adapter." in name), name
        if ".adapter." in name:  # up is zero: the first gradient reaches up only
            assert (param.grad.abs().sum() > 0) == (".adapter.up." in name), name


def test_insert_names_an_unplaceable_model_type(tiny_t5):
    tiny_t5.model.config.model_type = "mystery"
    with pytest.raises(PeftlabError, match="no adapter placement for model type 'mystery'"):
        adapters.insert(tiny_t5.model)


def test_every_trained_method_but_full_has_a_place_in_the_map():
    """Is each PEFT method of the registry in exactly one of the three classes?"""
    placed = [p.method for p in PLACEMENTS]
    assert sorted(set(METHODS) - {"full"}) == sorted(set(placed) - {"adapter"})
    assert len(placed) == len(set(placed)) and {p.peft_class for p in PLACEMENTS} == set(PEFT_CLASSES)
    with pytest.raises(ValueError, match="'additve'"):
        Placement("x", "x", "additve")


def test_the_map_shows_the_shares_it_is_given_and_no_others():
    """Does the map print each given share, mark a missing one, and leave out unplaced names?"""
    from peftlab import plots

    fig = plots.peft_map({"lora": 1.35, "prompt": 0.0086, "full": 100.0, "zero-shot": 0.0})
    texts = [text.get_text() for text in fig.axes[0].texts]
    assert any("LoRA\n1.35% trainable" in t for t in texts)
    assert any("prompt tuning\n0.0086% trainable" in t for t in texts)
    assert sum("no share in this run" in t for t in texts) == 3  # ln_tuning, adapter, prefix
    assert not any("100%" in t for t in texts), "full fine-tuning is not placed in the map"
    assert any("Lialin et al. 2023" in t for t in texts)
