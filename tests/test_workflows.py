"""The GitHub Actions workflows: valid against the workflow schema (offline) and doing what the
README and the GPU runner promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
CI, GPU = WORKFLOWS / "ci.yml", WORKFLOWS / "gpu.yml"


def schema_check(*paths: Path) -> subprocess.CompletedProcess:
    """check-jsonschema with its vendored GitHub workflow schema: no network needed."""
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           "vendor.github-workflows", *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def steps(path: Path) -> list[dict]:
    """Every step of every job of a workflow."""
    jobs = yaml.safe_load(path.read_text())["jobs"]
    return [step for job in jobs.values() for step in job["steps"]]


def commands(path: Path) -> str:
    """All ``run:`` scripts of a workflow, one after another."""
    return "\n".join(step.get("run", "") for step in steps(path))


def test_both_workflows_match_the_schema():
    """Do ci.yml and gpu.yml validate against GitHub's workflow schema?"""
    assert {CI.name, GPU.name} <= {p.name for p in WORKFLOWS.glob("*.yml")}
    result = schema_check(CI, GPU)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("breakage", [("runs-on:", "runs_on:"), ("steps:", "stepz:"),
                                      ("- uses: actions/checkout@v4", "- usez: actions/checkout@v4")])
def test_a_broken_workflow_fails_the_check(tmp_path, breakage):
    """Does a workflow with a misspelt key fail the check, naming the file?"""
    broken = tmp_path / "gpu.yml"
    broken.write_text(GPU.read_text().replace(*breakage, 1))
    result = schema_check(broken)
    assert result.returncode != 0
    assert str(broken) in result.stdout + result.stderr


def test_ci_runs_the_readme_test_command_and_the_nightly_course():
    """Does CI run .ci/run (make test) on every push, the CPU benchmark, and `make run` nightly?"""
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    workflow = yaml.safe_load(CI.read_text())
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert "push" in on and "schedule" in on
    script = commands(CI)
    assert ".ci/run" in script and "make run" in script
    assert "benchmarks/gpu.py" in script


def test_gpu_workflow_runs_course_grading_thresholds_and_keeps_artifacts():
    """Does gpu.yml run on the self-hosted `gpu` runner and set up, test, run the gpu profile,
    autograde, benchmark, check the ROUGE floors and upload notebooks, report and grades?"""
    workflow = yaml.safe_load(GPU.read_text())
    job = next(iter(workflow["jobs"].values()))
    assert {"self-hosted", "gpu"} <= set(job["runs-on"])
    script = commands(GPU)
    for needed in ("make setup", "make test", "peftlab run --profile gpu", "course generate",
                   "course autograde", "course export", "benchmarks/gpu.py",
                   "python -m peftlab.thresholds"):
        assert needed in script, needed
    upload = next(s for s in steps(GPU) if s.get("uses", "").startswith("actions/upload-artifact"))
    kept = upload["with"]["path"]
    for artefact in ("report.md", "results.json", "notebooks/", "grades.csv", "benchmark"):
        assert artefact in kept, artefact
