"""Installing a package for a test without touching the shared virtual environment.

`venv_with(folder, *projects)` makes a virtual environment in `folder` that sees the test interpreter's packages
(a .pth file naming its site-packages: `--system-site-packages` would see the system's, not this venv's) and
installs each project into it with pip, editable, offline: `--no-build-isolation` builds with the setuptools
already installed. Its interpreter runs `python -m trainer` from the repository like the test interpreter does.
"""
from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path


def site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def venv_with(folder: Path, *projects: Path) -> Path:
    """The interpreter of a new venv in `folder` with `projects` pip-installed (editable) into it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    (site_packages(python) / "trainbook-test-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    if projects:
        editable = [arg for project in projects for arg in ("-e", str(project))]
        result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                                 "--no-build-isolation", "--no-index", *editable], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    return python
