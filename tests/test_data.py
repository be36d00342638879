"""peftlab.data: one loader for the original release, the Hub layout and the embedded sample."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest
from conftest import cli_env

from peftlab.data import PROMPT_TEMPLATE, build_prompt, load_dialogsum
from peftlab.errors import DataError

D1 = "#Person1#: Is the library open on Sunday?\n#Person2#: Only in the afternoon, from one to five."
D2 = "#Person1#: Can I pay by card?\n#Person2#: Yes, but not for amounts under five dollars."
D3 = "#Person1#: Your flight is delayed.\n#Person2#: By how long?\n#Person1#: Two hours, sorry."


def _jsonl(rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def _release_folder(root):
    """A folder in DialogSum's original release format: train.jsonl, dev.jsonl.gz, test.jsonl."""
    (root / "train.jsonl").write_text(_jsonl([
        {"fname": "train_0", "dialogue": D1, "summary": "Sunday hours.", "topic": "library"},
        {"fname": "train_1", "dialogue": D2, "summary": "Card payment.", "topic": "shopping"},
    ]))
    (root / "dev.jsonl.gz").write_bytes(gzip.compress(_jsonl([
        {"fname": "dev_0", "dialogue": D3, "summary": "A delay.", "topic": "travel"},
    ]).encode()))
    (root / "test.jsonl").write_text(_jsonl([
        {"fname": "test_0", "dialogue": D3, "summary1": "Flight delayed.", "summary2": "Two hours late.",
         "summary3": "An apology for a delay.", "topic1": "travel", "topic2": "flight",
         "topic3": "delay"},
    ]))
    return root


def test_release_format_gives_normalised_splits(tmp_path):
    """Does the original release (fname, dev, summary1..3) load as train/validation/test rows?"""
    data = load_dialogsum(_release_folder(tmp_path))
    assert sorted(data) == ["test", "train", "validation"]
    for split in data.values():
        assert split.column_names == ["id", "dialogue", "summary", "references", "topic"]
    assert data["train"][0] == {"id": "train_0", "dialogue": D1, "summary": "Sunday hours.",
                                "references": ["Sunday hours."], "topic": "library"}
    assert data["validation"]["id"] == ["dev_0"]
    test = data["test"][0]
    assert test["references"] == ["Flight delayed.", "Two hours late.", "An apology for a delay."]
    assert test["summary"] == "Flight delayed." and test["topic"] == "travel"


def test_hub_layout_merges_repeated_test_dialogues(tmp_path):
    """Does the Hub layout (csv/parquet by split, one test row per reference) give one row per dialogue?"""
    import pandas as pd

    pd.DataFrame([{"id": "train_0", "dialogue": D1, "summary": "Sunday hours.", "topic": "library"}]
                 ).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame([{"id": "dev_0", "dialogue": D2, "summary": "Card.", "topic": "shopping"}]
                 ).to_csv(tmp_path / "validation.csv", index=False)
    refs = ["Flight delayed.", "Two hours late.", "An apology for a delay."]
    pd.DataFrame([{"id": f"test_0_{k}", "dialogue": D3, "summary": r, "topic": "travel"}
                  for k, r in enumerate(refs, 1)]
                 + [{"id": "test_1_1", "dialogue": D1, "summary": "Hours.", "topic": "library"}]
                 ).to_parquet(tmp_path / "test.parquet")
    data = load_dialogsum(tmp_path)
    assert sorted(data) == ["test", "train", "validation"]
    assert data["test"].num_rows == 2
    first = data["test"][0]
    assert first["id"] == "test_0" and first["references"] == refs and first["summary"] == refs[0]
    assert data["validation"][0]["dialogue"] == D2


def test_absent_split_is_left_out_and_named(tmp_path, capsys):
    """Does a folder without a dev file load train and test and say on stderr that validation is missing?"""
    _release_folder(tmp_path)
    (tmp_path / "dev.jsonl.gz").unlink()
    data = load_dialogsum(tmp_path)
    assert sorted(data) == ["test", "train"]
    assert "validation" in capsys.readouterr().err


def test_validation_stands_in_for_a_missing_test_split(tmp_path, capsys):
    """Does a folder of train and dev alone (DialogSum without its test file) give the notebooks a
    test split that is the validation split, and say so in one line?"""
    _release_folder(tmp_path)
    next(tmp_path.glob("test.jsonl*")).unlink()
    data = load_dialogsum(tmp_path)
    assert sorted(data) == ["test", "train", "validation"]
    assert data["test"]["id"] == data["validation"]["id"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "validation split stands in for test" in err[0]


def _bad_rows(tmp_path, name, content: bytes):
    _release_folder(tmp_path)
    (tmp_path / name).write_bytes(content)
    return tmp_path


BAD = {
    "no dialogue": ("train.jsonl", _jsonl([{"fname": "a", "dialogue": D1, "summary": "s"},
                                           {"fname": "b", "summary": "s"}]).encode(), "row 2"),
    "no summary": ("test.jsonl", _jsonl([{"fname": "a", "dialogue": D1, "topic1": "t"}]).encode(),
                   "row 1"),
    "empty file": ("train.jsonl", b"", "empty"),
    "not utf-8": ("train.jsonl", _jsonl([{"fname": "a", "dialogue": D1, "summary": "s"}]).encode()
                  + '{"fname": "b", "dialogue": "caf\u00e9", "summary": "s"}\n'.encode("latin-1"),
                  "line 2"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_is_one_line_naming_file_and_row(tmp_path, case):
    """Does each broken input raise a one-line DataError naming the file and the row?"""
    name, content, where = BAD[case]
    folder = _bad_rows(tmp_path, name, content)
    with pytest.raises(DataError) as err:
        load_dialogsum(folder)
    message = str(err.value)
    assert "\n" not in message
    assert name in message and where in message


def test_missing_folder_is_a_data_error(tmp_path):
    """Does a folder that does not exist give a one-line DataError naming it?"""
    with pytest.raises(DataError) as err:
        load_dialogsum(tmp_path / "nowhere")
    assert "nowhere" in str(err.value) and "\n" not in str(err.value)


def test_hub_id_offline_points_to_the_sample(tmp_path):
    """Offline, does a Hub id give a DataError that suggests dialogsum-mini?"""
    code = ("from peftlab.data import load_dialogsum\n"
            "from peftlab.errors import DataError\n"
            "try:\n    load_dialogsum('knkarthick/dialogsum')\n"
            "except DataError as err:\n    print('DataError:', err)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=cli_env(HF_HOME=str(tmp_path / "hf")))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("DataError:") and "dialogsum-mini" in proc.stdout


def test_prompt_template_is_the_labs():
    """Is the prompt exactly the lab's zero-shot summarization prompt?"""
    assert PROMPT_TEMPLATE == "Summarize the following conversation.\n\n{dialogue}\n\nSummary: "
    assert build_prompt("  #Person1#: Hi.\n") == (
        "Summarize the following conversation.\n\n#Person1#: Hi.\n\nSummary: ")
