"""Exercise 12's package side: the lab's LoraConfig for FLAN-T5 and what a config trains on a shape.

``lab_t5_config`` is the reference notebook 3 falls back to; ``count_on_shape`` is what the
exercise's test cells and its share cell count with (FLAN-T5-base's architecture on the meta
device: no weights, a fraction of a second).
"""

from __future__ import annotations

import pytest
from peft import LoraConfig

from peftlab.errors import PeftlabError
from peftlab.methods import lora
from peftlab.models import FLAN_T5_BASE_SHAPE, TINY_T5


def test_lab_config_has_the_labs_settings():
    """Is the reference the lab's config: r, alpha as asked, dropout 0.05, q and v, seq2seq?"""
    config = lora.lab_t5_config()
    assert (config.r, config.lora_alpha, config.lora_dropout, config.bias) == (32, 32, 0.05, "none")
    assert config.target_modules == {"q", "v"} and config.task_type == "SEQ_2_SEQ_LM"
    other = lora.lab_t5_config(8, 16)
    assert (other.r, other.lora_alpha) == (8, 16)


def test_lab_config_is_what_apply_uses_on_t5():
    """Does the reference equal the config apply() builds for a T5 model with the defaults?"""
    model = lora._meta_model(TINY_T5)
    assert lora.lab_t5_config() == lora.peft_config(model, lora.Config())
    assert lora.lab_t5_config(4, 8) != lora.peft_config(model, lora.Config())


def test_flan_t5_base_shape_share():
    """Does the lab's config train 3,538,944 of 226,442,496 weights (1.56%) on the course's
    FLAN-T5-base shape, in its 72 q and v projections (its output layer is tied to the input
    embedding, so the total is not the checkpoint's 251,116,800)?"""
    shape = lora.count_on_shape(lora.lab_t5_config())
    assert (shape.count.trainable, shape.count.total) == (3_538_944, 226_442_496)
    assert round(shape.count.percent, 2) == 1.56
    assert len(shape.adapted) == 72 and {n.rsplit(".", 1)[-1] for n in shape.adapted} == {"q", "v"}
    assert "decoder.block.11.layer.1.EncDecAttention.v" in shape.adapted


def test_other_targets_are_counted_as_they_are():
    """Are other targets counted for what they adapt: a regex alike, q and k the same count but
    other modules, Llama's names nothing at all?"""
    regex = LoraConfig(task_type="SEQ_2_SEQ_LM", r=32, target_modules=r".*\.(q|v)")
    assert lora.count_on_shape(regex) == lora.count_on_shape(lora.lab_t5_config())
    q_and_k = lora.count_on_shape(LoraConfig(r=32, target_modules=["q", "k"]))
    assert q_and_k.count.trainable == 3_538_944
    assert {n.rsplit(".", 1)[-1] for n in q_and_k.adapted} == {"q", "k"}
    llama = lora.count_on_shape(LoraConfig(r=32, target_modules=["q_proj", "v_proj"]))
    assert llama.adapted == () and llama.count.trainable == 0
    assert llama.count.total == 222_903_552


def test_the_config_passed_in_is_left_alone():
    """Does counting leave the caller's config as it was (peft fills in fields of what it wraps)?"""
    config = lora.lab_t5_config()
    before = config.to_dict()
    lora.count_on_shape(config, FLAN_T5_BASE_SHAPE)
    assert config.to_dict() == before


def test_a_model_it_cannot_build_is_one_line():
    """Does asking for a model without a local builder end in one line naming the choices?"""
    with pytest.raises(PeftlabError, match="flan-t5-base-shape, tiny-t5 only") as err:
        lora.count_on_shape(lora.lab_t5_config(), "smollm2-135m-instruct")
    assert "\n" not in str(err.value)
