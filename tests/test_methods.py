"""peftlab.methods: shared behaviours of every method, on a tiny T5 and a tiny Llama."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import BUILDERS, TEXTS, batch_for

from peftlab.errors import PeftlabError
from peftlab.evaluation import load_adapter
from peftlab.memory import dir_size, model_bytes
from peftlab.methods import METADATA_FILE, METHODS, apply_method, count_parameters
from peftlab.methods.lora import merge
from peftlab.methods.prompt import init_token_ids, soft_prompt
from peftlab.models import InputKind
from peftlab.training import save_trained

# Which parameter names each method trains: one table, no per-case branches.
TRAINS = {
    "full": lambda name: True,
    "lora": lambda name: ".lora_A." in name or ".lora_B." in name,
    "prompt": lambda name: name.startswith("prompt_encoder."),
    "prefix": lambda name: name.startswith("prompt_encoder."),
    "ln_tuning": lambda name: ".ln_tuning_layers." in name,
}
ADAPTERS = ("lora", "prompt", "prefix")
ATOL = 1e-4


def _perturb(model, pattern: str, seed: int = 0, std: float = 0.5) -> None:
    """Give parameters whose name contains ``pattern`` random values (LoRA B starts at zero)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if pattern in name:
                param.copy_(torch.randn(param.shape, generator=gen) * std)


def _logits(model, batch):
    model.eval()
    with torch.no_grad():
        return model(**batch).logits


@pytest.mark.parametrize("method", sorted(METHODS))
def test_only_the_methods_parameters_get_gradients(tiny_lab, method):
    """After one backward pass, do exactly the method's parameters hold gradients (frozen: None)?"""
    model = apply_method(tiny_lab, method)
    model.train()
    model(**batch_for(tiny_lab)).loss.backward()
    names = [name for name, _ in model.named_parameters()]
    with_grad = {name for name, p in model.named_parameters() if p.grad is not None}
    expected = {name for name in names if TRAINS[method](name)}
    assert expected, f"{method} trains nothing on {tiny_lab.name}"
    assert with_grad == expected
    assert count_parameters(model).trainable == sum(
        p.numel() for name, p in model.named_parameters() if name in expected)


def test_merged_lora_equals_unmerged(tiny_lab):
    """Does folding B·A into W give the same logits as the adapter beside W?"""
    batch = batch_for(tiny_lab)
    before = _logits(tiny_lab.model, batch)
    model = apply_method(tiny_lab, "lora")
    _perturb(model, "lora_B")
    unmerged = _logits(model, batch)
    assert not torch.allclose(unmerged, before, atol=ATOL), "the perturbed adapter changed nothing"
    merged = merge(model, check_inputs=batch)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert next(merged.parameters()).dtype == torch.float32, "merge returns the model's own dtype"
    assert torch.allclose(_logits(merged, batch), unmerged, atol=ATOL)


@pytest.mark.parametrize("factor", [2.0, 1.05])
def test_merge_check_catches_a_wrong_scaling(tiny_lab, monkeypatch, factor):
    """Does the merge check fail when B·A is folded in with a scaling off by 2x, or by only 5%?"""
    from peft.tuners.lora.layer import Linear

    batch = batch_for(tiny_lab)
    model = apply_method(tiny_lab, "lora")
    _perturb(model, "lora_B", std=0.05)
    right = Linear.get_delta_weight
    monkeypatch.setattr(Linear, "get_delta_weight", lambda self, name: right(self, name) * factor)
    with pytest.raises(ValueError, match="merge is wrong"):
        merge(model, check_inputs=batch)


@pytest.mark.parametrize("method", ADAPTERS)
def test_saved_adapter_reloads_onto_a_fresh_base(tiny_lab, method, tmp_path):
    """Does save_trained + load_adapter on a fresh base give identical logits from a small folder,
    and the method's input handling?"""
    batch = batch_for(tiny_lab)
    model = apply_method(tiny_lab, method)
    _perturb(model, "lora_B" if method == "lora" else "prompt_encoder")
    expected = _logits(model, batch)
    save_trained(tiny_lab, method, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", METADATA_FILE} <= names
    assert not names & {"model.safetensors", "pytorch_model.bin", "config.json"}
    fresh = BUILDERS[tiny_lab.name]()
    assert dir_size(tmp_path) < model_bytes(fresh.model) / 4
    reloaded = load_adapter(fresh, tmp_path)
    assert torch.equal(_logits(reloaded.model, batch), expected)
    assert reloaded.inputs is METHODS[method].INPUTS


def test_named_adapter_reloads_from_its_folder(tiny_t5, tmp_path):
    """Does a named adapter, which peft saves in <folder>/<name>/, reload by its peftlab.json?"""
    batch = batch_for(tiny_t5)
    model = apply_method(tiny_t5, "lora", adapter_name="summary")
    _perturb(model, "lora_B")
    expected = _logits(model, batch)
    save_trained(tiny_t5, "lora", tmp_path)
    assert (tmp_path / "summary" / "adapter_config.json").exists()
    reloaded = load_adapter(BUILDERS["tiny-t5"](), tmp_path)
    assert reloaded.model.active_adapter == "summary"
    assert torch.equal(_logits(reloaded.model, batch), expected)


def test_folder_without_metadata_is_one_line(tiny_t5, tmp_path):
    """Does load_adapter on a folder without peftlab.json (not a run's output) say so in one line?"""
    apply_method(tiny_t5, "lora").save_pretrained(tmp_path)
    with pytest.raises(PeftlabError) as err:
        load_adapter(BUILDERS["tiny-t5"](), tmp_path)
    assert METADATA_FILE in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_module_holds_its_traits(name):
    """Does each registered module say everything about its method: a config with help text per
    field, apply, a learning rate, its input handling, and how it saves and reloads a run?"""
    module = METHODS[name]
    fields = dataclasses.fields(module.Config)
    assert all(f.metadata.get("help") for f in fields), f"{name}: a setting without help text"
    assert dataclasses.is_dataclass(module.Config())
    assert isinstance(module.DEFAULT_LR, float) and 0 < module.DEFAULT_LR < 1
    assert isinstance(module.INPUTS, InputKind)
    assert all(callable(getattr(module, f)) for f in ("apply", "save", "reload"))


def test_cli_method_choices_come_from_the_registry():
    """Does `peftlab train --method` offer exactly the registered methods?"""
    from peftlab.cli import _parser

    train = _parser()._subparsers._group_actions[0].choices["train"]
    method = next(a for a in train._actions if a.dest == "method")
    assert list(method.choices) == list(METHODS)


def _norm_weights(model) -> dict[str, torch.Tensor]:
    """The weights of ``model``'s norm layers (T5LayerNorm, RMSNorm), by their plain names."""
    return {f"{module_name}.{name}": param for module_name, module in model.named_modules()
            if type(module).__name__.endswith("Norm")
            for name, param in module.named_parameters(recurse=False)}


def test_ln_tuning_trains_every_norm_weight_and_nothing_else(tiny_lab):
    """Does LayerNorm tuning train exactly the base model's norm weights (peft's default targets
    must reach every T5LayerNorm / RMSNorm: 12 of 64 on tiny-t5, 5 on the 2-layer Llama)?"""
    norms = _norm_weights(tiny_lab.model)
    expected = {"tiny-t5": 12 * 64, "tiny-llama": 5 * 64}[tiny_lab.name]
    assert sum(p.numel() for p in norms.values()) == expected
    model = apply_method(tiny_lab, "ln_tuning")
    trained = {name: p for name, p in model.named_parameters() if p.requires_grad}
    assert count_parameters(model).trainable == expected
    # each trained tensor is a copy of one norm weight: base.<name>.ln_tuning_layers.default.weight
    plain = {name.removeprefix("base_model.model.").replace(".ln_tuning_layers.default", "")
             for name in trained}
    assert plain == set(norms)


def test_ln_tuning_saves_only_what_it_trained(tiny_lab, tmp_path):
    """Does a LayerNorm-tuning run save peft's adapter holding only the trained norm weights, and
    reload onto a fresh base to the same logits?"""
    from safetensors import safe_open

    batch = batch_for(tiny_lab)
    apply_method(tiny_lab, "ln_tuning")
    _perturb(tiny_lab.model, ".ln_tuning_layers.", std=1.0)
    expected = _logits(tiny_lab.model, batch)
    trained = count_parameters(tiny_lab.model).trainable
    save_trained(tiny_lab, "ln_tuning", tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert "adapter_model.safetensors" in names
    assert not names & {"model.safetensors", "pytorch_model.bin", "config.json"}
    with safe_open(str(tmp_path / "adapter_model.safetensors"), "pt") as saved:
        assert all(".ln_tuning_layers." in key for key in saved.keys())
        assert sum(saved.get_tensor(key).numel() for key in saved.keys()) == trained
    assert dir_size(tmp_path) < trained * 4 + 64_000  # the trained numbers, headers, README, json
    fresh = BUILDERS[tiny_lab.name]()
    assert not torch.allclose(_logits(fresh.model, batch), expected, atol=ATOL)
    reloaded = load_adapter(fresh, tmp_path)
    assert torch.allclose(_logits(reloaded.model, batch), expected, atol=ATOL)


def test_bitfit_is_refused_with_the_new_name(tiny_t5, capsys):
    """Do apply_method and `peftlab train --method bitfit` end in one line naming ln_tuning, and
    leave the model as it was?"""
    from peftlab.cli import main

    with pytest.raises(PeftlabError) as err:
        apply_method(tiny_t5, "bitfit")
    assert "'ln_tuning'" in str(err.value) and "\n" not in str(err.value)
    assert not getattr(tiny_t5.model, "peft_config", None)
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--model", "tiny-t5", "--method", "bitfit"])
    assert exit_.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "method 'bitfit' is renamed 'ln_tuning'" in last


def _old_bitfit_run(lab, folder) -> None:
    """A run folder as `peftlab train --method bitfit` wrote it: the norm weights by their plain
    names in trained.safetensors, and peftlab.json naming the method bitfit."""
    import json

    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({name: p.detach().contiguous() for name, p in _norm_weights(lab.model).items()},
              str(folder / "trained.safetensors"))
    (folder / METADATA_FILE).write_text(json.dumps(
        {"method": "bitfit", "model": lab.name, "task": "summary", "adapter": None}))


def test_a_run_saved_as_bitfit_still_loads(tiny_lab, tmp_path):
    """Does a folder an older peftlab saved under the name bitfit reload its norm weights (a
    fresh base differs), and does one from another model say so in one line?"""
    batch = batch_for(tiny_lab)
    _perturb(tiny_lab.model, "norm", std=1.0)
    expected = _logits(tiny_lab.model, batch)
    _old_bitfit_run(tiny_lab, tmp_path / "old")
    fresh = BUILDERS[tiny_lab.name]()
    assert not torch.allclose(_logits(fresh.model, batch), expected, atol=ATOL)
    reloaded = load_adapter(fresh, tmp_path / "old")
    assert reloaded.inputs is InputKind.TOKENS
    assert torch.allclose(_logits(reloaded.model, batch), expected, atol=ATOL)

    other = next(name for name in BUILDERS if name != tiny_lab.name)
    _old_bitfit_run(BUILDERS[other](), tmp_path / "other")
    with pytest.raises(PeftlabError, match="trained on another model") as err:
        load_adapter(BUILDERS[tiny_lab.name](), tmp_path / "other")
    assert "\n" not in str(err.value)


def test_prompt_random_init_is_at_the_embeddings_scale(tiny_llama):
    """Does a random soft prompt start at the token embeddings' scale, not peft's N(0, 1)?"""
    embedding = tiny_llama.model.get_input_embeddings().weight
    with torch.no_grad():
        embedding.mul_(0.05)  # a real model's scale, far from 1
    apply_method(tiny_llama, "prompt", num_virtual_tokens=64, init="random")
    prompt = soft_prompt(tiny_llama.model)
    ratio = prompt.std().item() / embedding.std().item()
    assert 0.8 < ratio < 1.25, f"soft prompt std is {ratio:.2f}x the embeddings'"
    assert prompt.mean().abs().item() < 0.2 * embedding.std().item()


def test_prompt_text_init_starts_from_the_texts_embeddings(tiny_lab):
    """Does text-initialised prompt tuning start each virtual token at an init-text token's embedding?"""
    text = "Summarize the following conversation."
    embed = tiny_lab.model.get_input_embeddings().weight.detach().clone()
    model = apply_method(tiny_lab, "prompt", init="text", init_text=text, num_virtual_tokens=12)
    table = model.prompt_encoder["default"].embedding.weight.detach()
    ids = init_token_ids(tiny_lab.tokenizer, text, table.shape[0])
    assert torch.equal(table, embed[ids])
    assert len(set(ids)) > 1


def test_init_token_ids_repeat_and_cut(tiny_t5):
    """Are the init text's ids repeated to fill n and cut to exactly n?"""
    ids = tiny_t5.tokenizer("Summary:", add_special_tokens=False)["input_ids"]
    assert init_token_ids(tiny_t5.tokenizer, "Summary:", 1) == ids[:1]
    assert init_token_ids(tiny_t5.tokenizer, "Summary:", 3 * len(ids) + 1) == ids * 3 + ids[:1]


def test_two_lora_adapters_switch(tiny_lab):
    """Do two named LoRA adapters on one base switch with set_adapter and give different logits?"""
    batch = batch_for(tiny_lab)
    apply_method(tiny_lab, "lora", adapter_name="summary")
    model = apply_method(tiny_lab, "lora", adapter_name="topic")
    assert model is tiny_lab.model and model.active_adapter == "topic"
    _perturb(model, ".lora_B.summary.", seed=1)
    _perturb(model, ".lora_B.topic.", seed=2)
    topic = _logits(model, batch)
    model.set_adapter("summary")
    summary = _logits(model, batch)
    assert not torch.allclose(summary, topic, atol=ATOL)
    model.set_adapter("topic")
    assert torch.equal(_logits(model, batch), topic)


def test_prefix_leaves_the_t5_encoder_untouched(tiny_t5):
    """With prefix tuning on T5, is the encoder's output exactly the frozen model's (prefixes act in
    the decoder only), while the decoder still reads the encoder's output?"""
    batch = batch_for(tiny_t5)
    with torch.no_grad():
        frozen = tiny_t5.model(**batch)
    model = apply_method(tiny_t5, "prefix")
    _perturb(model, "prompt_encoder", std=1.0)
    model.eval()
    with torch.no_grad():
        out = model(**batch)
        swapped = model(**dict(batch_for(tiny_t5, TEXTS[::-1]), labels=batch["labels"]))
    assert torch.equal(out.encoder_last_hidden_state, frozen.encoder_last_hidden_state)
    assert not torch.allclose(out.logits, frozen.logits, atol=ATOL), "the prefix changed nothing"
    assert not torch.allclose(out.logits[0], swapped.logits[0], atol=ATOL)


def test_unknown_method_or_setting_is_a_peftlab_error(tiny_t5):
    """Do an unknown method, an unknown setting and a bad value each raise a one-line PeftlabError?"""
    for name, overrides, quoted in [("adapterfusion", {}, "adapterfusion"),
                                    ("lora", {"rank": 8}, "rank"),
                                    ("lora", {"r": 0}, "r=0")]:
        with pytest.raises(PeftlabError) as err:
            apply_method(tiny_t5, name, **overrides)
        assert quoted in str(err.value) and "\n" not in str(err.value)
    assert not getattr(tiny_t5.model, "peft_config", None), "a refused method still changed the model"


def test_prefix_text_init_equals_writing_the_text_first(tiny_llama):
    """Does a text-initialised prefix make the model act as if the init text came first?"""
    from peftlab.methods.prompt import init_token_ids

    base = tiny_llama.model
    ids = init_token_ids(tiny_llama.tokenizer, "Summarize the following conversation.", 6)
    x = torch.tensor([[7, 8, 9, 10, 11]])
    with torch.no_grad():
        expected = base(input_ids=torch.cat([torch.tensor([ids]), x], dim=1)).logits[:, len(ids):]
    apply_method(tiny_llama, "prefix", num_virtual_tokens=6, init="text")
    tiny_llama.model.eval()
    with torch.no_grad():
        got = tiny_llama.model(input_ids=x, attention_mask=torch.ones_like(x)).logits
    assert torch.allclose(got, expected, atol=1e-4)
    other = BUILDERS["tiny-llama"]()  # same seed, same weights; a random prefix must not do it
    apply_method(other, "prefix", num_virtual_tokens=6, init="random")
    with torch.no_grad():
        random_logits = other.model.eval()(input_ids=x, attention_mask=torch.ones_like(x)).logits
    assert not torch.allclose(random_logits, expected, atol=1e-2)
