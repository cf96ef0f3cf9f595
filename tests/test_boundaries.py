"""The one-way flow holds in the code: generators never import torch, the trainer never imports generators."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_generators_run_without_importing_torch():
    probe = "import sys, generators.__main__, generators.catalog, generators.content, generators.sections; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_trainer_never_imports_generators():
    offenders = [p for p in (REPO / "trainer").rglob("*.py") if "generators" in p.read_text() and "import" in p.read_text()
                 and any(line.lstrip().startswith(("import generators", "from generators")) for line in p.read_text().splitlines())]
    assert offenders == []
