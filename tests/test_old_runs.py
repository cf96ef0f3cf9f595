"""Runs recorded by earlier code stay first-class: a run folder in the format written before the engine contract
(a key metric without a unit, no `processes` section, a config.yaml whose keys an older schema ordered
differently) still verifies, publishes and reproduces identically."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import yaml

from tests.conftest import run_cli
from tests.sitebuild import build_site
from trainer.tracking import integrity, layout, ledger

OLD_KEY_METRIC = {"name": "val_loss", "goal": "min", "label": "val loss"}
"""what every record held as its key metric before engines declared a unit"""


def reordered(config_yaml: str) -> str:
    """The same resolved config with every section's keys in reverse order, as a schema that declared them
    differently would have written it."""
    def flip(node):
        return {k: flip(node[k]) for k in reversed(list(node))} if isinstance(node, dict) else node
    return yaml.safe_dump(flip(yaml.safe_load(config_yaml)), sort_keys=False, allow_unicode=True)


def as_older_code_wrote_it(run: Path) -> None:
    """Rewrite a sealed run, in its own runs folder, into the earlier format and seal it again (a fresh ledger)."""
    record = json.loads((run / layout.RECORD).read_text())
    old_yaml = reordered((run / layout.CONFIG).read_text())
    (run / layout.CONFIG).write_text(old_yaml)
    record["key_metric"] = OLD_KEY_METRIC
    record.pop("sealed", None)
    record["config_sha256"] = hashlib.sha256(old_yaml.encode()).hexdigest()
    record["artifacts"][layout.CONFIG] = {"sha256": record["config_sha256"], "bytes": len(old_yaml.encode())}
    (run.parent / layout.LEDGER).unlink()
    ledger.seal(run.parent, run.name, record)


def test_a_run_in_the_earlier_format_verifies_publishes_and_reproduces(tiny_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(tiny_runs, runs)
    (run,) = layout.run_folders(runs)
    as_older_code_wrote_it(run)
    assert json.loads((run / layout.RECORD).read_text())["key_metric"] == OLD_KEY_METRIC
    assert integrity.verify(runs).problems == 0

    site = build_site(runs, tmp_path / "site")
    page = (site / "runs" / run.name / "index.html").read_text()
    assert "val loss" in page and "Verified" in page

    again = run_cli("trainer", "reproduce", str(run), timeout=600)
    assert again.returncode == 0, again.stderr
    assert "identical" in again.stdout
    assert run_cli("trainer", "verify", "--runs-dir", str(runs)).returncode == 0


def test_an_edited_config_of_an_earlier_run_is_still_refused(tiny_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(tiny_runs, runs)
    (run,) = layout.run_folders(runs)
    as_older_code_wrote_it(run)
    text = (run / layout.CONFIG).read_text()
    (run / layout.CONFIG).write_text(text.replace("seed: 1337", "seed: 1338"))

    refused = run_cli("trainer", "reproduce", str(run))
    assert refused.returncode == 2
    assert f"{layout.CONFIG}: differs from the config sha256 in {layout.RECORD}" in refused.stderr
