"""The site stays within its budget: thin figures, and the files of old runs in a second store, linked, never lost."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from trainer.figures import style


def test_figures_are_written_as_palette_pngs_about_a_third_of_aggs_bytes_and_the_same_picture(tmp_path):
    fig, ax = style.figure("Loss", "step", "loss (nats)")
    steps = list(range(1, 400))
    ax.plot(steps, [2 + 1 / s ** 0.5 for s in steps], color=style.TRAIN_COLOR, label="train")
    ax.plot(steps, [2.1 + 1 / s ** 0.4 for s in steps], color=style.VAL_COLOR, label="validation")
    ax.legend()
    agg = io.BytesIO()
    fig.savefig(agg, format="png", dpi=style.DPI, bbox_inches="tight", metadata={"Software": None})

    path = style.save(fig, tmp_path / "loss.png")

    thin = Image.open(path)
    assert thin.mode == "P" and path.stat().st_size < 0.5 * len(agg.getvalue())
    original = Image.open(io.BytesIO(agg.getvalue())).convert("RGB")
    assert thin.size == original.size
    difference = [abs(a - b) for a, b in zip(thin.convert("RGB").tobytes(), original.tobytes())]
    assert sum(difference) / len(difference) < 2 and max(difference) < 64
    assert style.thin_png(agg.getvalue()) == path.read_bytes()  # deterministic: the same bytes every time


# --- the budget and the second store ---------------------------------------------------------------

import json  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from benchmarks.synthetic_runs import make_runs  # noqa: E402
from generators import history, site_budget  # noqa: E402
from generators.runs import RunView, load_runs  # noqa: E402
from tests.conftest import run_cli  # noqa: E402
from tests.sitebuild import build_hugo, generate  # noqa: E402
from trainer.tracking import layout  # noqa: E402
from trainer.tracking.files import sha256_file  # noqa: E402

STORE_URL = "https://raw.githubusercontent.com/octo/trainbook/trainbook-store/"
LATER = datetime(2026, 6, 1, tzinfo=timezone.utc)


def budget_moving(runs: list, share: float) -> int:
    """A budget at which about `share` of the runs' bytes must move to the store."""
    total = site_budget.place(runs, None, {}).site_bytes
    return int(total * (1 - share) / site_budget.HEADROOM)


def test_the_budget_moves_the_oldest_runs_figures_first_and_their_page_data_only_when_that_is_not_enough(synthetic_runs):
    runs = load_runs(synthetic_runs)  # newest first
    some = site_budget.place(runs, budget_moving(runs, 0.03), {})
    assert 0 < len(some.stored) < len(runs) and some.site_bytes <= budget_moving(runs, 0.03) * site_budget.HEADROOM
    oldest_first = [r.id for r in reversed(runs)]
    assert set(some.stored) == set(oldest_first[:len(some.stored)])  # the oldest runs, and only they
    assert all(names <= {"loss.png"} for names in some.stored.values())  # figures first: pages still read the rest

    sizes = site_budget.footprint(runs)
    half_the_page_data = (sizes["site"] + sizes["kept"] + sizes["page data"] / 2) / site_budget.HEADROOM
    all_figures = site_budget.place(runs, int(half_the_page_data), {})
    deep = {n for names in all_figures.stored.values() for n in names}
    assert all("loss.png" in names for run_id, names in all_figures.stored.items() if run_id in {r.id for r in runs})
    assert {layout.METRICS, "loss.png"} <= deep and not deep & set(site_budget.ALWAYS_KEPT)

    with pytest.raises(site_budget.BudgetError, match="raise SITE_BUDGET"):
        site_budget.place(runs, 10_000, {})  # not even the records and pages fit


def test_a_file_once_stored_stays_stored_whatever_the_budget(synthetic_runs):
    runs = load_runs(synthetic_runs)
    oldest = runs[-1].id
    placement = site_budget.place(runs, None, {oldest: {"loss.png", "not-a-file-of-it.png"}})
    assert placement.stored == {oldest: {"loss.png"}} and placement.moved == 0


def test_a_site_over_its_budget_with_no_store_is_refused_naming_what_would_help(synthetic_copy, tmp_path):
    budget = budget_moving(load_runs(synthetic_copy), 0.03)
    result = run_cli("generators", "--runs-dir", str(synthetic_copy), "--content", str(tmp_path / "content"), "--site-budget", str(budget))
    assert result.returncode == 2
    assert "no second store is configured: set STORE_URL" in result.stderr and "raise SITE_BUDGET" in result.stderr
    assert not (tmp_path / "content" / "runs").exists()
    bad = run_cli("generators", "--runs-dir", str(synthetic_copy), "--content", str(tmp_path / "c2"), "--site-budget", "lots")
    assert bad.returncode == 2 and "expected a size such as 500MB" in bad.stderr


def publish(runs: Path, work: Path, budget: int, store: Path, restored: Path | None = None) -> Path:
    """`make publish` with a budget and a store: the generators, Hugo, the history export into the store folder."""
    args = ["--site-budget", str(budget), "--store-url", STORE_URL] + (["--history", str(restored)] if restored else [])
    generate(runs, work, *args)
    site = build_hugo(work)
    exported = run_cli("generators.history", "export", "--site", str(site), "--runs-dir", str(runs), "--store", str(store),
                       *(["--history", str(restored)] if restored else []))
    assert exported.returncode == 0, exported.stderr
    return site


def stored_files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


@pytest.mark.slow
def test_old_runs_keep_their_pages_with_their_files_linked_from_the_store_publish_after_publish(synthetic_copy, tmp_path):
    runs = load_runs(synthetic_copy)
    budget = budget_moving(runs, 0.03)
    site = publish(synthetic_copy, tmp_path / "first", budget, tmp_path / "store-1")

    index = json.loads((site / "history" / "index.json").read_text())
    assert index["format"] == history.FORMAT_STORE and index["store"] == STORE_URL
    moved = {f"{run}/{name}" for run, files in index["runs"].items() for name, where in files.items() if where == history.STORE}
    assert moved and stored_files(tmp_path / "store-1") == moved  # each moved file copied once, into the store folder
    for rel in moved:
        run, name = rel.split("/")
        assert not (site / "runs" / rel).exists()  # not on the site as well
        record = json.loads((synthetic_copy / run / layout.RECORD).read_text())
        assert sha256_file(tmp_path / "store-1" / rel) == record["artifacts"][name]["sha256"]
        page = (site / "runs" / run / "index.html").read_text()
        assert f'<img src="{STORE_URL}{run}/{name}"' in page  # the page is still there, its figure linked from the store
    assert run_cli("generators.history", "verify", str(site)).returncode == 0

    # The next publish restores the site (not the store: those files are not fetched), adds runs, and moves more.
    restored = tmp_path / "history"
    history.restore(str(site), restored)
    assert json.loads((restored / history.STORED).read_text())["store"] == STORE_URL
    assert not any((restored / rel).exists() for rel in moved)
    fresh = tmp_path / "runs-2"
    make_runs(fresh, 4, seed=5, start=LATER)
    more = budget_moving(load_runs(fresh) + history.load_views(restored), 0.06)  # more runs, more of them in the store
    second = publish(fresh, tmp_path / "second", more, tmp_path / "store-2", restored)

    index = json.loads((second / "history" / "index.json").read_text())
    now = {f"{run}/{name}" for run, files in index["runs"].items() for name, where in files.items() if where == history.STORE}
    assert now > moved and stored_files(tmp_path / "store-2") == now - moved  # only the newly moved files travel
    for rel in moved:
        assert f'src="{STORE_URL}{rel}"' in (second / "runs" / rel.split("/")[0] / "index.html").read_text()
    assert run_cli("generators.history", "verify", str(second)).returncode == 0


def test_the_built_site_is_measured_and_one_pages_would_refuse_fails_the_publish(tmp_path, monkeypatch):
    site, store = tmp_path / "public", tmp_path / "store"
    (site / "runs").mkdir(parents=True)
    (site / "index.html").write_bytes(b"x" * 6000)
    (store / "run").mkdir(parents=True)
    (store / "run" / "loss.png").write_bytes(b"y" * 2048)
    line = site_budget.check(site, 5000, store)
    assert "5.9 KiB in 1 files, 120% of its budget" in line and "over the budget" in line and "2.0 KiB in 1 files in the store" in line
    monkeypatch.setattr(site_budget, "PAGES_LIMIT", 5000)
    assert site_budget.main(["--site", str(site), "--budget", "none"]) == 1


def test_a_runs_weights_count_in_the_budget_and_never_leave_its_page(tmp_path):
    """`trainer sample` loads a run's weights from its page's address, so the budget counts them and moves the rest."""
    def run(i: int) -> RunView:
        folder = tmp_path / f"run-{i}"
        folder.mkdir()
        (folder / layout.RECORD).write_text("{}")
        facts = {"loss.png": {"sha256": "a" * 64, "bytes": 400_000}, layout.WEIGHTS: {"sha256": "b" * 64, "bytes": 2_000_000}}
        record = {"artifacts": facts, "figures": ["loss.png"], "weights": {"max_bytes": 10**8, "final": {"file": layout.WEIGHTS}}}
        return RunView(id=f"run-{i}", folder=folder, record=record)

    runs = [run(i) for i in range(4)]  # newest first
    sizes = site_budget.footprint(runs)
    assert sizes["kept"] >= 4 * 2_000_000 and sizes["figures and files"] == 4 * 400_000

    placement = site_budget.place(runs, int((sum(sizes.values()) - 2 * 400_000 + 1_000) / site_budget.HEADROOM), {})
    assert placement.stored == {"run-3": {"loss.png"}, "run-2": {"loss.png"}}  # the oldest runs' figures; weights stay
    with pytest.raises(site_budget.BudgetError):
        site_budget.place(runs, int(sizes["site"] + 4 * 2_000_000), {})  # their weights alone do not fit
