"""peftlab.cli: exit status 0/2, one-line errors without tracebacks, a JSON last line on stdout."""

from __future__ import annotations

import json
import subprocess

from conftest import cli_env, last_json

from peftlab.cli import _value, main


def _write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_bad_data_exits_2_with_one_line(tmp_path, peftlab_bin):
    """Does `peftlab evaluate` on a broken data folder exit 2 with one stderr line and no traceback?"""
    good = {"fname": "x", "dialogue": "#Person1#: Hi.\n#Person2#: Hello.", "summary": "A greeting."}
    _write_jsonl(tmp_path / "train.jsonl", [good, {"fname": "y", "summary": "No dialogue."}])
    _write_jsonl(tmp_path / "dev.jsonl", [good])
    _write_jsonl(tmp_path / "test.jsonl", [good])
    proc = subprocess.run([peftlab_bin, "evaluate", "--model", "tiny-t5", "--data", str(tmp_path)],
                          capture_output=True, text=True, env=cli_env(), timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "error:" in lines[0] and "train.jsonl" in lines[0] and "row 2" in lines[0]
    assert proc.stdout == ""


def test_user_errors_return_2(capsys):
    """Do an unknown model and a bad method setting (--set r 0) return 2 with a one-line message?"""
    assert main(["evaluate", "--model", "no-such-model"]) == 2
    assert main(["train", "--model", "tiny-t5", "--method", "lora", "--max-steps", "1",
                 "--limit", "2", "--set", "r", "0"]) == 2
    err = capsys.readouterr().err.splitlines()
    messages = [line for line in err if "error:" in line]
    assert len(messages) == 2
    assert "no-such-model" in messages[0] and "r=0" in messages[1]


def test_doctor_ends_with_json(capsys):
    """Does `peftlab doctor` report versions and offline models as a JSON last line?"""
    assert main(["doctor"]) == 0
    report = last_json(capsys.readouterr().out)
    assert report["versions"]["torch"] and "tiny-t5" in report["offline_models"]


def test_set_values_are_typed():
    """Are --set values read as int, float, bool, list or string?"""
    assert [_value(v) for v in ("8", "0.1", "true", "q,v", "text")] == [
        8, 0.1, True, ["q", "v"], "text"]


def test_evaluate_writes_metrics(peftlab_bin, uninterrupted, tmp_path):
    """Does `peftlab evaluate --adapter` write metrics.json (ROUGE, ci95, n, predictions with
    references) and end stdout with a JSON line?"""
    metrics_path = tmp_path / "m.json"
    proc = subprocess.run([peftlab_bin, "evaluate", "--model", "tiny-t5", "--adapter",
                           str(uninterrupted[0]), "--limit", "4", "--max-new-tokens", "20",
                           "--output", str(metrics_path)],
                          capture_output=True, text=True, env=cli_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = last_json(proc.stdout)
    metrics = json.loads(metrics_path.read_text())
    for key in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        assert 0.0 <= metrics[key] <= 1.0 and summary[key] == metrics[key]
        lo, hi = metrics["ci95"][key]
        assert lo <= metrics[key] <= hi
    assert metrics["n"] == 4 and len(metrics["predictions"]) == 4
    first = metrics["predictions"][0]
    assert set(first) >= {"id", "prediction", "references"} and len(first["references"]) == 3
    assert "predictions" not in summary
