"""On a CUDA device: the smoke course in bf16, batched generation, grading and memory accounting.

Without CUDA the whole module is skipped with one line. The GPU runner (.github/workflows/gpu.yml)
runs these inside ``make test``; ``pytest -m gpu`` runs them alone.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

if not torch.cuda.is_available():
    pytest.skip("no CUDA device: GPU tests skipped", allow_module_level=True)

from conftest import batch_for, build_tiny_llama, build_tiny_t5, cli_env  # noqa: E402
from test_course import test_whole_lab_solutions_full_marks_release_zero as grade_whole_lab  # noqa: E402
from test_generation import NEW_TOKENS, PROMPTS, _prepare  # noqa: E402

pytestmark = pytest.mark.gpu
BUILDERS = {"tiny-llama": build_tiny_llama, "tiny-t5": build_tiny_t5}


def test_smoke_profile_trains_on_cuda_in_bf16(tmp_path):
    """Does `peftlab run --profile smoke` run notebooks 01 and 03 on the GPU, with the Trainer in
    bf16 autocast, and write the report?"""
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "peftlab.cli", "run", "--profile", "smoke",
                           "--notebooks", "01", "03", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, env=cli_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "report.md").exists() and (out / "results.json").exists()
    costs = json.loads((out / "lora" / "train_results.json").read_text())["costs"]
    assert costs["device"].startswith("cuda")
    assert costs["peak_memory_kind"] == "cuda_max_allocated"
    # training.py trains in bf16 autocast exactly when it trains on CUDA with bf16 support
    assert torch.cuda.is_bf16_supported()
    assert costs["precision"] == "bf16"


@pytest.mark.parametrize("family,method", [("tiny-llama", None), ("tiny-llama", "lora"),
                                           ("tiny-llama", "prompt"), ("tiny-t5", None),
                                           ("tiny-t5", "lora")])
def test_batched_generation_equals_one_at_a_time_on_cuda(family, method):
    """On the GPU, is a padded batch's greedy output the same as each prompt's alone, for the base
    model, LoRA and a soft prompt?"""
    lab = BUILDERS[family]()
    lab.model.to("cuda")
    lab = _prepare(lab, method)
    assert lab.device.type == "cuda"
    batched = lab.generate(PROMPTS, max_new_tokens=NEW_TOKENS, batch_size=len(PROMPTS))
    alone = lab.generate(PROMPTS, max_new_tokens=NEW_TOKENS, batch_size=1)
    assert batched == alone
    assert all(alone)


def test_whole_lab_grades_on_cuda(tmp_path):
    """With the GPU visible, do the solutions still autograde to full marks and the release to 0,
    and did the grading kernels train on CUDA?"""
    from peftlab.grading.names import CourseLayout

    grade_whole_lab(tmp_path)
    graded = CourseLayout(tmp_path / "root").student("autograded", "solution")
    full_fine_tuning = (graded / "02_full_fine_tuning.ipynb").read_text()
    assert "cuda_max_allocated" in full_fine_tuning, \
        "the grading kernels trained on the CPU: the sandbox hides the GPU"


def test_step_memory_parts_add_up_to_the_cuda_peak():
    """On CUDA in bf16 autocast, do weights, gradients, optimizer state, activations and the rest
    add up to the measured peak, with gradients and Adam state counted exactly?"""
    from peftlab.memory import training_step_memory

    lab = build_tiny_t5()
    lab.model.to("cuda").train()
    batch = {k: v.to("cuda") for k, v in batch_for(lab).items()}
    weight_bytes = sum(p.numel() for p in lab.model.parameters()) * 4
    optimizer = torch.optim.AdamW(lab.model.parameters(), fused=True)
    mem = training_step_memory(lab.model, optimizer, batch, autocast_dtype=torch.bfloat16)
    assert mem.kind == "cuda_peak" and mem.total == mem.peak
    assert mem.weights == mem.gradients == weight_bytes
    assert mem.optimizer >= 2 * weight_bytes
    assert mem.activations > 0 and mem.saved > 0
