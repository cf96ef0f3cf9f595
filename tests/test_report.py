"""The pull-request report: each experiment's new run against the latest main run, always under 60,000 characters."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generators import history, mermaid, report
from generators.report import SUMMARY_HEAD
from tests.conftest import REPO, run_cli
from tests.synthetic import clone_run, template
from tests.test_history import publish


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
    base = yaml.safe_load((REPO / "experiments" / "names-mlp.yaml").read_text())  # what the tiny runs were trained from
    assert f"| optim.lr | {base['optim']['lr']} | 0.05 |" in tuned
    assert f"| model.n&#95;hidden | {base['model']['n_hidden']} | 300 |" in tuned
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


@pytest.mark.slow
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


# --- curves GitHub draws, links that open, and hostile values -----------------------------------------

NUMBER = r"-?\d+(?:\.\d+)?"
"""a number as Mermaid's xychart grammar reads it: plain decimals, no exponent"""


def mermaid_blocks(text: str) -> list[str]:
    """Every ```mermaid block of the report, fences included; every fence in the report belongs to one."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        if lines[i].startswith("```"):
            assert lines[i] == "```mermaid", f"a fence that opens no mermaid block: {lines[i]!r}"
            end = lines.index("```", i + 1)
            assert not any(line.startswith("```") for line in lines[i + 1:end])
            blocks.append("\n".join(lines[i:end + 1]))
            i = end
        i += 1
    return blocks


def parse_xychart(block: str) -> dict:
    """Mermaid's xychart-beta grammar, strictly: an init directive, the chart type, a quoted title, a categorical
    x-axis of numbers, a y-axis range, then lines with one plain number per x position inside that range."""
    lines = block.splitlines()
    assert lines[0] == "```mermaid" and lines[-1] == "```"
    init = re.fullmatch(r"%%\{init: (\{.*\})\}%%", lines[1])
    assert init and set(json.loads(init.group(1))) == {"themeVariables"}
    assert lines[2] == "xychart-beta"
    title = re.fullmatch(r'    title "([^"\n`]*)"', lines[3]).group(1)
    x_label, xs = re.fullmatch(rf'    x-axis "([^"`]*)" \[((?:{NUMBER}, )*{NUMBER})\]', lines[4]).groups()
    y_label, low, high = re.fullmatch(rf'    y-axis "([^"`]*)" ({NUMBER}) --> ({NUMBER})', lines[5]).groups()
    series = [[float(v) for v in re.fullmatch(rf"    line \[((?:{NUMBER}, )*{NUMBER})\]", line).group(1).split(", ")]
              for line in lines[6:-1]]
    steps = [int(x) for x in xs.split(", ")]
    assert series and all(len(s) == len(steps) for s in series) and steps == sorted(steps)
    assert all(float(low) <= v <= float(high) for s in series for v in s)
    return {"title": title, "x": x_label, "y": y_label, "steps": steps, "lines": series}


def metrics_file(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.fixture(scope="module")
def curves(tmp_path_factory, tiny_runs):
    """A base and a head of one experiment whose validation curves differ, step by step."""
    root = tmp_path_factory.mktemp("curves")
    real, base, head = template(tiny_runs), root / "base", root / "head"
    base_rows = [{"step": s, "val_loss": 3.0 - s / 1000} for s in (100, 200, 300)]
    head_rows = [{"step": s, "val_loss": 2.9 - s / 500} for s in (100, 200, 300)]
    clone_run(real, base, "curved", 1, metrics={"val_loss": 2.7}, config={"gates": {}},
              files={"metrics.jsonl": metrics_file(base_rows)})
    clone_run(real, head, "curved", 2, metrics={"val_loss": 2.3}, config={"gates": {}, "optim.lr": 0.2},
              files={"metrics.jsonl": metrics_file(head_rows)})
    return base, head, base_rows, head_rows


def test_a_changed_experiments_key_metric_curve_is_a_mermaid_chart_of_base_and_head(curves):
    base, head, base_rows, head_rows = curves
    text = write_report(base, head)
    (block,) = mermaid_blocks(text)
    chart = parse_xychart(block)
    assert chart["title"] == "curved: base vs head" and chart["y"] == "val loss (nats per character)"
    assert chart["steps"] == [100, 200, 300]
    assert chart["lines"] == [pytest.approx([r["val_loss"] for r in base_rows], rel=1e-5),  # six significant digits
                              pytest.approx([r["val_loss"] for r in head_rows], rel=1e-5)]
    assert '"plotColorPalette": "#4a78a8, #e4572e"' in block  # the site's base and head colours, which the caption names
    assert "blue: base and red: head" in text.split("```\n", 2)[-1]


def test_a_long_noisy_curve_is_binned_to_a_chart_that_stays_small(tiny_runs, tmp_path):
    real = template(tiny_runs)
    rows = [{"step": s, "train_loss": 3.0 - s / 5000 + (0.2 if s % 2 else -0.2)} for s in range(1, 2001)]
    for runs, minute in ((tmp_path / "base", 1), (tmp_path / "head", 2)):
        clone_run(real, runs, "long", minute, config={"gates": {}}, files={"metrics.jsonl": metrics_file(rows)})
    chart = parse_xychart(mermaid_blocks(write_report(tmp_path / "base", tmp_path / "head"))[0])
    assert len(chart["steps"]) == mermaid.POINTS and chart["lines"][0] == chart["lines"][1]
    assert abs(chart["lines"][0][0] - sum(r["train_loss"] for r in rows[:50]) / 50) < 1e-5  # a bin's mean: the noise averages out


@pytest.fixture(scope="module")
def two_sites(tmp_path_factory, ledgers):
    """The published site (base runs, with its history) and the preview CI builds (head runs with that history)."""
    base, head = ledgers
    work = tmp_path_factory.mktemp("two-sites")
    published = publish(base, work / "published")
    restored = work / "history"
    history.restore(str(published), restored)
    return published, publish(head, work / "preview", restored)


def link_targets(text: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'<img src="([^"]+)"', text)


def page_exists(site: Path, rel: str) -> bool:
    path = site / rel.split("#")[0]
    return (path / "index.html").is_file() if rel.endswith("/") or not rel else path.is_file()


def test_every_link_opens_a_page_of_the_preview_or_the_published_site(ledgers, two_sites):
    published, preview = two_sites
    preview_url, published_url = "https://example.github.io/preview/", "https://example.github.io/site/"
    text = write_report(*ledgers, "--site-url", preview_url, "--published-url", published_url)
    targets = link_targets(text)
    on_preview = [t.removeprefix(preview_url) for t in targets if t.startswith(preview_url)]
    on_published = [t.removeprefix(published_url) for t in targets if t.startswith(published_url)]
    assert len(on_preview) + len(on_published) == len(targets) and on_preview and on_published
    assert any(t.startswith("compare/") for t in on_preview) and any(t.endswith("/loss-overlay.png") for t in on_preview)
    assert [t for t in on_preview if not page_exists(preview, t)] == []
    assert [t for t in on_published if not page_exists(published, t)] == []
    assert all(t.startswith("runs/") or t == "" for t in on_published)  # the site itself, and its runs: the base runs


def test_without_a_hosted_preview_the_changes_runs_link_to_the_artifact_with_one_instruction(ledgers, two_sites):
    published, _ = two_sites
    artifact, published_url = "https://github.com/o/r/actions/runs/7#artifacts", "https://example.github.io/site/"
    text = write_report(*ledgers, "--preview-url", artifact, "--published-url", published_url)
    targets = link_targets(text)
    assert set(targets) - {artifact} and {t for t in targets if not t.startswith(published_url)} == {artifact}
    assert [t for t in targets if t.startswith(published_url) and not page_exists(published, t.removeprefix(published_url))] == []
    (line,) = [line for line in text.splitlines() if "site-preview" in line]
    assert "unzip site-preview.zip -d site-preview && python3 -m http.server -d site-preview" in line
    tuned = text.split("### tuned")[1].split("###")[0]
    assert re.search(r"\]\(https://github\.com/o/r/actions/runs/7#artifacts\) \(preview: <code>runs/tuned-", tuned)


HOSTILE = "x```\n</sub><script>alert(1)</script>|[y](javascript:z)\"'%%{init}%%"


def test_hostile_names_tags_and_metric_keys_inject_nothing_and_break_nothing(tiny_runs, tmp_path):
    real = template(tiny_runs)
    rows = [{"step": s, HOSTILE: 1.0 + s / 100, "val_loss": 2.0} for s in (1, 2, 3)]
    key_metric = {"name": HOSTILE, "goal": "min", "label": HOSTILE, "unit": HOSTILE}
    for runs, minute in ((tmp_path / "base", 1), (tmp_path / "head", 2)):
        clone_run(real, runs, "hostile", minute, metrics={HOSTILE: 1.0 + minute}, extra={"key_metric": key_metric},
                  config={"gates": {}, "tags": [HOSTILE, "`"], "notes": HOSTILE}, files={"metrics.jsonl": metrics_file(rows)},
                  reason=HOSTILE)
    text = write_report(tmp_path / "base", tmp_path / "head", "--site-url", "https://x.example/a b)(/")

    (block,) = mermaid_blocks(text)  # one block; no other fence anywhere
    chart = parse_xychart(block)
    assert chart["title"] == "hostile: base vs head" and '"' not in chart["y"] and "`" not in chart["y"]
    for bad in ("<script", "</sub><", "](javascript:", "%%{init}%%"):
        assert bad not in text.replace(block, ""), bad
    assert "https://x.example/a%20b%29%28/runs/" in text  # an address cannot end its link early
    for line in text.splitlines():
        if line.startswith("| hostile |"):
            assert line.count(" | ") == SUMMARY_HEAD.splitlines()[0].count(" | ")
