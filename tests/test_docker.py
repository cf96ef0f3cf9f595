"""The container images: Dockerfile (CPU) and Dockerfile.cuda install the project as `make setup` does, run the README's
`make train publish` by default, and pass hadolint (from requirements.txt). No Docker engine runs in the test suite,
so the images themselves are built by whoever has one (docs/containers.md)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

HADOLINT = Path(sys.executable).parent / "hadolint"
IMAGES = ("Dockerfile", "Dockerfile.cuda")


def hadolint(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(HADOLINT), "--no-color", *map(str, paths)], cwd=REPO, capture_output=True, text=True, timeout=60)


def instructions(name: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    joined, current = [], ""
    for line in (REPO / name).read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            joined.append(current.strip())
            current = ""
    return joined


def test_both_dockerfiles_pass_hadolint():
    result = hadolint(*(REPO / name for name in IMAGES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_catch_a_careless_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y make\nRUN cd /app && pip install torch\n")
    result = hadolint(bad)
    assert result.returncode == 1
    assert {"DL3007", "DL3008", "DL3009", "DL3003", "DL3013"} <= set(result.stdout.replace(":", " ").split())


@pytest.mark.parametrize("name", IMAGES)
def test_each_image_installs_with_make_setup_and_trains_and_publishes_by_default(name):
    steps = instructions(name)
    runs = [s for s in steps if s.startswith("RUN ")]
    assert "RUN make setup" in runs and runs.index("RUN make setup") > runs.index("RUN make .venv/.ready")
    assert steps[-1] == 'CMD ["make", "train", "publish"]'
    assert any(s.startswith("USER ") and "root" not in s and not s.startswith("USER 0") for s in steps)
    cpu_index = any("PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu" in s for s in steps)
    assert cpu_index == (name == "Dockerfile")  # CPU torch as in CI; the CUDA image takes PyPI's CUDA build


def test_the_build_context_leaves_out_what_make_builds():
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".venv", "runs", "public", "build", "history", ".cache"} <= ignored
