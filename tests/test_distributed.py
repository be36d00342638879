"""Multi-process training: the unchanged `peftlab train` command under torchrun and accelerate.

Two CPU processes (gloo) train tiny-t5 with LoRA on the sample into one --output folder, as a user
would run it. Each rank reports its steps, its real tokens and a fingerprint of its trained weights;
rank 0 alone writes the folder. The ranks see different batches (their token counts differ), yet
end with identical weights: only gradients averaged across the two processes at every step can do
that, so the run was data-parallel, not two copies of one run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
# Each rank runs the unchanged peftlab command, with the same output folder.
PER_RANK = 'exec "$0" train --model tiny-t5 --method lora --data dialogsum-mini --limit 16 ' \
           '--batch-size 2 --max-steps 3 --output "$1/out"'
RANK_LINE = re.compile(r"peftlab train: rank (\d) of 2: (\d+) steps, (\d+) real tokens, "
                       r"trained weights ([0-9a-f]{16})")
LAUNCHERS = {
    "torchrun": ["torchrun", "--nproc_per_node", "2", "--master_port", "{port}", "--no-python"],
    "accelerate": ["accelerate", "launch", "--multi_gpu", "--num_processes", "2",
                   "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                   "--main_process_port", "{port}", "--no_python"],
}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_two_processes_train_data_parallel_to_identical_weights(tmp_path, launcher):
    """Under torchrun and under `accelerate launch` on two CPU processes, does the unchanged
    `peftlab train` log its loss on both ranks, and do both ranks end with the same adapter, byte
    for byte, after seeing different batches?"""
    tool = BIN / LAUNCHERS[launcher][0]
    if not tool.exists():
        pytest.skip(f"{tool.name} is not installed next to {sys.executable}")
    peftlab = shutil.which("peftlab", path=str(BIN))
    if peftlab is None:
        pytest.skip("the peftlab console script is not installed")
    command = [str(tool), *(a.format(port=free_port()) for a in LAUNCHERS[launcher][1:]),
               "bash", "-c", PER_RANK, peftlab, str(tmp_path)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env=cli_env(CUDA_VISIBLE_DEVICES=""))
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = {int(m[1]): (int(m[2]), int(m[3]), m[4]) for m in RANK_LINE.finditer(proc.stderr)}
    assert set(ranks) == {0, 1}, proc.stderr[-3000:]
    assert ranks[0][0] == ranks[1][0] == 3
    assert ranks[0][1] != ranks[1][1], \
        "both ranks saw the same batches: the data was not split between them"
    assert ranks[0][2] == ranks[1][2], "the ranks ended with different weights"
    summary = json.loads((tmp_path / "out" / "train_results.json").read_text())
    assert [entry["step"] for entry in summary["loss_history"]] == [1, 2, 3]
    from safetensors.torch import load_file

    lora_b = [t for name, t in load_file(tmp_path / "out" / "adapter_model.safetensors").items()
              if "lora_B" in name]
    assert lora_b and any(t.abs().sum() > 0 for t in lora_b), "LoRA B is still zero: nothing trained"
