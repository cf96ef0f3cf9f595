"""The pull-request report: each experiment's new run against the latest main run, always under 60,000 characters."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from generators import report
from tests.conftest import REPO, run_cli
from tests.synthetic import clone_run, template


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory, tiny_runs):
    """A base (main's published runs) and a head (a pull request's runs) with one experiment per outcome."""
    root = tmp_path_factory.mktemp("ledgers")
    real, base, head = template(tiny_runs), root / "base", root / "head"

    def clone(runs, name, minute, config=None, **changes):  # gates only where a test declares them
        return clone_run(real, runs, name, minute, config={"gates": {}, **(config or {})}, **changes)

    for minute, name in enumerate(["steady", "tuned", "retired", "broken", "regressed", "resampled"]):
        clone(base, name, minute, metrics={"val_loss": 2.50})
    clone(base, "tuned", 10, status="failed", reason="loss became nan")  # newer, failed: not the baseline
    clone(head, "steady", 100, metrics={"val_loss": 2.50})
    clone(head, "tuned", 101, metrics={"val_loss": 2.40}, config={"optim.lr": 0.05, "model.n_hidden": 300})
    clone(head, "broken", 102, status="failed", reason="training loss became nan at step 7 <script>x</script>")
    clone(head, "regressed", 103, metrics={"val_loss": 2.61}, config={"gates": {"val_loss": "<= 2.55"}})
    clone(head, "resampled", 104, metrics={"val_loss": 2.50}, data_sha256="f" * 64)
    clone(head, "fresh", 105, metrics={"val_loss": 2.20})
    return base, head


def write_report(base, head, *extra) -> str:
    result = run_cli("generators.report", "--base", str(base), "--head", str(head), *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


def summary_rows(text: str) -> dict[str, str]:
    """The summary table's rows by experiment (the table ends at the first blank line)."""
    table = text.split(report.SUMMARY_HEAD)[1].split("\n\n")[0]
    return {line.split(" | ")[0][2:]: line for line in table.splitlines()}


def test_each_experiment_gets_one_summary_row_with_its_outcome(ledgers):
    text = write_report(*ledgers)
    rows = summary_rows(text)
    expected = {"steady": "= same", "tuned": "✅ better", "retired": "➖ not run", "broken": "❌ failed",
                "regressed": "❌ gate failed", "resampled": "= same", "fresh": "🆕 new"}
    assert {name: next(o for o in report.OUTCOMES.values() if o in row) for name, row in rows.items()} == expected
    assert text.startswith(report.MARKER + "\n")
    assert list(rows) == ["broken", "regressed", "retired", "fresh", "tuned", "resampled", "steady"]  # most severe first


def test_a_changed_metric_shows_both_values_the_delta_and_which_way_is_better(ledgers):
    text = write_report(*ledgers)
    assert "| val loss: 2.5000 → 2.4000 | −0.1000 (−4.0%) |" in summary_rows(text)["tuned"]
    tuned = text.split("### tuned")[1]
    assert re.search(r"\| val&#95;loss \(key\) \| 2\.5000 \| 2\.4000 \| −0\.1000 \(−4\.0%\) \| ✅ better \|", tuned)


def test_config_changes_are_listed_key_by_key_against_the_latest_successful_main_run(ledgers):
    tuned = write_report(*ledgers).split("### tuned")[1].split("###")[0]
    assert "**Config:** 2 setting(s) differ." in tuned
    assert "| optim.lr | 0.1 | 0.05 |" in tuned and "| model.n&#95;hidden | 200 | 300 |" in tuned
    assert "tuned-20200101T001000Z" not in tuned  # the newer but failed main run is not the baseline


def test_failed_runs_gates_data_changes_and_removed_experiments_are_spelled_out(ledgers):
    text = write_report(*ledgers)
    assert "training loss became nan at step 7 &#60;script&#62;" in text and "<script>" not in text
    regressed = text.split("### regressed")[1].split("###")[0]
    assert "val&#95;loss &#60;= 2.55</code> got 2.61 ❌" in regressed
    assert "**changed** " in text.split("### resampled")[1].split("###")[0]
    assert "No run of this experiment in this change" in text.split("### retired")[1]
    assert "Reproduction:** not checked" in text


def test_links_go_to_run_and_comparison_pages_of_the_preview_site(ledgers):
    base, head = ledgers
    text = write_report(base, head, "--site-url", "https://example.org/preview")
    tuned = text.split("### tuned")[1].split("###")[0]
    (head_run,) = [p.name for p in head.iterdir() if p.name.startswith("tuned-")]
    assert f"(https://example.org/preview/runs/{head_run}/)" in tuned
    assert re.search(rf"\[side by side\]\(https://example\.org/preview/compare/tuned-20200101T000100Z-[0-9a-f]{{7}}--{head_run}/\)", tuned)
    assert '<img src="https://example.org/preview/compare/' in tuned


def test_base_may_be_given_as_its_ledger_file(ledgers):
    base, head = ledgers
    assert summary_rows(write_report(base / "ledger.jsonl", head)) == summary_rows(write_report(base, head))


def test_500_runs_each_side_stay_under_the_limit_with_whole_tables_and_every_experiment_accounted(tmp_path, tiny_runs):
    real, base, head = template(tiny_runs), tmp_path / "base", tmp_path / "head"
    for i in range(500):
        clone_run(real, base, f"exp-{i:03d}", i, link=True, metrics={"val_loss": 2.5})
        clone_run(real, head, f"exp-{i:03d}", 1000 + i, link=True, metrics={"val_loss": 2.5 + (i % 5 - 2) / 100},
                  config={"optim.lr": 0.1 + i / 1000, "notes": "a long note | with pipes " * 20},
                  status="failed" if i % 50 == 0 else "ok", reason="out of memory" if i % 50 == 0 else None)

    text = write_report(base, head)

    assert len(text) <= report.LIMIT
    header_cells = None
    for line in text.splitlines():
        if line.startswith("| experiment |"):
            header_cells = line.count("|")
        if line.startswith("| exp-"):
            assert line.endswith("|") and line.count("|") == header_cells  # no row cut short
    listed = len(summary_rows(text))
    left = re.search(r"^(\d+) more experiment\(s\) not listed", text, re.M)
    assert listed + (int(left.group(1)) if left else 0) == 500
    details = len(re.findall(r"^### exp-", text, re.M))
    omitted = re.search(r"^Details of (\d+) experiment\(s\) left out", text, re.M)
    assert details > 0 and details + int(omitted.group(1)) == 500
    assert summary_rows(text) and list(summary_rows(text))[:10] == [f"exp-{i:03d}" for i in range(0, 500, 50)]  # failures first


def test_report_history_and_comparison_modules_never_import_torch():
    probe = ("import sys, generators.report, generators.history, generators.compare, generators.sections, trainer.gates; "
             "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
