"""The environment files agree, and `import peftlab` stays light."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[_norm(name)] = version.strip()
    return pins


def _environment_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            for spec in entry.get("pip", []):
                if not spec.startswith("-"):
                    name, version = spec.split("==")
                    pins[_norm(name)] = version.strip()
        elif "=" in entry:
            name, version = entry.split("=", 1)
            pins[_norm(name)] = version.strip()
    return pins


def test_environment_yml_matches_the_lock():
    """Does every version pinned in environment.yml (conda and pip) equal requirements.lock's?"""
    lock, env = _lock(), _environment_pins()
    env.pop("python", None)
    assert len(env) > 50
    unlocked = sorted(set(env) - set(lock))
    assert unlocked == [], f"pinned in environment.yml but not in requirements.lock: {unlocked}"
    differ = {name: (env[name], lock[name]) for name in env if env[name] != lock[name]}
    assert differ == {}


def test_torch_pin():
    """Does pyproject pin torch to exactly 2.13.0, as the lock does?"""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "torch==2.13.0" in project["dependencies"]
    assert _lock()["torch"] == "2.13.0"


def test_import_is_light_and_side_effect_free(tmp_path):
    """Does `import peftlab` avoid importing torch/transformers, seeding, plotting and the cache?"""
    code = ("import sys, random\n"
            "state = random.getstate()\n"
            "import peftlab\n"
            "heavy = [m for m in ('torch', 'transformers', 'peft', 'datasets', 'matplotlib')\n"
            "         if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert random.getstate() == state, 'import seeded random'\n"
            "assert peftlab.__all__ == sorted(peftlab.__all__)\n"
            "print('ok')\n")
    cache = tmp_path / "cache"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "PEFTLAB_CACHE": str(cache),
                               "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok" and proc.stderr == ""
    assert list(tmp_path.iterdir()) == [], "import wrote files (cache, HOME or working folder)"
