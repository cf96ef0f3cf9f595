"""Publishing again: only what changed is rendered, tampering is still caught, the home page says what changed."""
from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timezone

import pytest

from benchmarks.synthetic_runs import KINDS, make_runs
from tests.conftest import run_cli
from tests.sitebuild import generate

LATER = datetime(2026, 6, 1, tzinfo=timezone.utc)


def rendered(log: str) -> int:
    return int(re.search(r"\((\d+) rendered", log).group(1))


def mtimes(folder) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file() and ".trainbook" not in p.parts}


def test_publishing_unchanged_runs_again_renders_and_writes_nothing(synthetic_copy, tmp_path):
    generate(synthetic_copy, tmp_path)
    before = mtimes(tmp_path / "content")
    log = generate(synthetic_copy, tmp_path)
    assert rendered(log) == 0
    assert mtimes(tmp_path / "content") == before


def test_adding_a_run_rerenders_its_page_its_neighbour_and_the_lists_but_no_other_run_page(synthetic_copy, tmp_path):
    generate(synthetic_copy, tmp_path)
    runs_before = mtimes(tmp_path / "content" / "runs")
    (new,) = make_runs(synthetic_copy, 1, seed=99, start=LATER)
    log = generate(synthetic_copy, tmp_path)
    changed = {path.split("/")[0] for path, mtime in mtimes(tmp_path / "content" / "runs").items()
               if path.endswith("/index.md") and runs_before.get(path) != mtime}
    assert new.name in changed
    assert len(changed) == 2, changed  # the new run, and the run before it of the same experiment (its "next run" link)
    assert rendered(log) < 60  # of ~130 pages: the new run, its neighbour, lists, indexes, overview


def test_an_edited_artifact_is_caught_even_when_its_hash_was_cached(synthetic_copy, tmp_path):
    generate(synthetic_copy, tmp_path)
    run = next(p for p in synthetic_copy.iterdir() if p.name.startswith("names-mlp-"))
    metrics = run / "metrics.jsonl"
    metrics.write_text(metrics.read_text().replace("2", "3"))  # same size, new content
    generate(synthetic_copy, tmp_path)
    page = (tmp_path / "content" / "runs" / run.name / "index.md").read_text()
    assert "Verification failed" in page and "metrics.jsonl: edited" in page


def test_home_page_lists_runs_added_since_the_previous_publish_and_keeps_listing_them_on_a_republish(synthetic_copy, tmp_path):
    generate(synthetic_copy, tmp_path)
    overview = tmp_path / "content" / "overview" / "index.md"
    assert "This is the first publish of this site" in overview.read_text()
    items = [line for line in overview.read_text().splitlines() if line.startswith("- [")]
    assert len(items) > 3 and all(line.count("](") == 1 for line in items)  # one Markdown list item per new run
    (new,) = make_runs(synthetic_copy, 1, seed=7, start=LATER)
    generate(synthetic_copy, tmp_path)
    text = overview.read_text()
    assert "Compared with the publish of" in text and "1 new run(s)" in text and new.name in text
    # The log keeps the snapshot the site ships, byte for byte, and what changed since the one before it.
    log = (tmp_path / "content" / ".trainbook" / "published.json").read_text()
    shipped = (tmp_path / "content" / "runs" / "published.json").read_text()
    assert log == json.dumps(json.loads(log), sort_keys=True, separators=(",", ":")) + "\n"
    assert json.loads(log)["current"] == json.loads(shipped) and json.loads(log)["changes"]["new"] == [new.name]
    assert log.endswith(f',"current":{shipped.rstrip()}}}\n')
    generate(synthetic_copy, tmp_path)  # nothing new: the last change is still what the home page shows
    assert overview.read_text() == text


@pytest.mark.slow
def test_a_fresh_checkout_compares_with_the_live_sites_snapshot(synthetic_copy, tmp_path):
    generate(synthetic_copy, tmp_path / "live")
    snapshot = tmp_path / "live" / "content" / "runs" / "published.json"
    assert json.loads(snapshot.read_text())["format"] == "trainbook-published-1"
    (new,) = make_runs(synthetic_copy, 1, seed=8, start=LATER)
    generate(synthetic_copy, tmp_path / "ci", "--previous-publish", str(snapshot))
    text = (tmp_path / "ci" / "content" / "overview" / "index.md").read_text()
    assert "1 new run(s)" in text and new.name in text and "first publish" not in text


def test_a_run_that_no_longer_verifies_is_called_out_on_the_home_page(synthetic_copy, tmp_path):
    generate(synthetic_copy, tmp_path)
    run = next(p for p in synthetic_copy.iterdir() if p.name.startswith("market-pg-"))
    (run / "run.json").write_text((run / "run.json").read_text().replace('"pid": 1', '"pid": 2'))
    generate(synthetic_copy, tmp_path)
    text = (tmp_path / "content" / "overview" / "index.md").read_text()
    assert re.search(rf"\[{run.name}\]\([^)]*\) \*\*no longer verifies\*\*", text)


def test_summary_sentence_compares_with_the_previous_finished_run(tmp_path):
    runs = tmp_path / "runs"
    first, second = make_runs(runs, 2, failed_every=0, kinds=KINDS[:1])
    for run, value in ((first, 2.0), (second, 1.9)):
        record = json.loads((run / "run.json").read_text())
        record["metrics"]["val_loss"] = value
        record["duration_s"] = 192.0
        (run / "run.json").write_text(json.dumps(record))
    generate(runs, tmp_path)
    page = (tmp_path / "content" / "runs" / second.name / "index.md").read_text()
    assert '<p class="lede">3.2 min on cpu, val loss 1.9000, 2,000 steps, 5.0% better than the previous run.</p>' in page


def hugo_build(work) -> str:
    result = run_cli("generators.hugo_build", "--content", str(work / "content"), "--destination", str(work / "public"))
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_hugo_renders_only_changed_pages_after_a_run_is_added_and_deletes_the_pages_of_a_removed_one(synthetic_copy, tmp_path):
    generate(synthetic_copy, tmp_path)
    assert "full build" in hugo_build(tmp_path)
    public = tmp_path / "public"
    untouched = next(public.glob("runs/market-pg-*/index.html"))
    stamp = untouched.stat().st_mtime_ns
    (new,) = make_runs(synthetic_copy, 1, seed=11, start=LATER)
    generate(synthetic_copy, tmp_path)
    assert "incremental build" in hugo_build(tmp_path)
    assert (public / "runs" / new.name / "index.html").is_file() and (public / "runs" / new.name / "loss.png").is_file()
    assert new.name in (public / "index.html").read_text() and new.name in (public / "statuses" / "ok" / "index.html").read_text()
    compared = [p.parent for p in public.glob("compare/*/index.html") if new.name in p.parent.name]
    assert compared  # the new run's comparison with its predecessor
    assert untouched.stat().st_mtime_ns == stamp
    shutil.rmtree(new)
    generate(synthetic_copy, tmp_path)
    built = hugo_build(tmp_path)
    # Its pages are deleted, every page that linked to it rendered again, its search entries dropped; nothing else is built.
    assert "incremental build" in built and "dropped" in built, built
    assert not (public / "runs" / new.name).exists() and not any(p.exists() for p in compared)
    assert [p for p in public.rglob("*.html") if f"{new.name}/\"" in p.read_text(encoding="utf-8")] == []  # no link to it
    assert f"no longer published: {new.name}" in (public / "index.html").read_text()
    fresh = json.loads((public / "search.json").read_text())["fresh"]
    assert fresh[f"/runs/{new.name}/"] == "" and all(fresh[f"/{p.relative_to(public)}/"] == "" for p in compared)
    assert untouched.stat().st_mtime_ns == stamp


def test_a_publish_that_moves_old_runs_files_to_the_store_stays_incremental_and_the_site_drops_them(synthetic_copy, tmp_path):
    """Past its budget, every publish moves a few old runs' files to the store: each would otherwise be a full build."""
    from generators import site_budget
    from generators.runs import load_runs

    store = "https://example.org/store/"
    budget = int(site_budget.place(load_runs(synthetic_copy), None, {}).site_bytes / site_budget.HEADROOM)
    generate(synthetic_copy, tmp_path, "--site-budget", str(budget), "--store-url", store)  # it fits, just
    assert "full build" in hugo_build(tmp_path)
    public = tmp_path / "public"
    before = {p.relative_to(public) for p in (public / "runs").rglob("*") if p.is_file()}
    make_runs(synthetic_copy, 3, seed=21, start=LATER)
    log = generate(synthetic_copy, tmp_path, "--site-budget", str(budget), "--store-url", store)
    assert "in the store" in log
    assert "incremental build" in hugo_build(tmp_path)
    after = {p.relative_to(public) for p in (public / "runs").rglob("*") if p.is_file()}
    gone = before - after
    assert gone and all(not (tmp_path / "content" / p).exists() for p in gone)  # the moved files left the site too
    assert {p for p in after if not (tmp_path / "content" / p).exists() and p.name != "index.html"} == set()
    run, name = next(iter(gone)).parts[1:]
    assert f"{store}{run}/{name}" in (public / "runs" / run / "index.html").read_text()  # its page links the store


def test_hugo_builds_the_whole_site_when_most_of_its_pages_were_rendered_again(synthetic_copy, tmp_path, monkeypatch):
    """A new version of the generators renders every page: copying them into a folder of changed pages would copy the
    site, so Hugo builds it whole (and Pagefind indexes it whole, not as a delta holding it a second time)."""
    import contextlib
    import io

    from generators import hugo_build as build

    generate(synthetic_copy, tmp_path)
    assert "full build" in hugo_build(tmp_path)
    monkeypatch.setattr(build, "FULL_PAGES", 10)  # this site has about 130 pages; the real floor is for small sites
    (new,) = make_runs(synthetic_copy, 1, seed=13, start=LATER)
    generate(synthetic_copy, tmp_path)
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        assert build.main(["--content", str(tmp_path / "content"), "--destination", str(tmp_path / "public")]) == 0
    assert "incremental build, search index: 5 pages, in delta 1 of 1" in log.getvalue()  # a few pages: incremental
    assert rendered(generate(synthetic_copy, tmp_path, "--full")) > 100
    with contextlib.redirect_stderr(log):
        assert build.main(["--content", str(tmp_path / "content"), "--destination", str(tmp_path / "public")]) == 0
    assert log.getvalue().splitlines()[-1].startswith("hugo: full build, search index: whole site")
    assert not list((tmp_path / "public").glob("pagefind-delta-*")) and (tmp_path / "public" / "runs" / new.name / "index.html").is_file()


def test_a_publish_with_nothing_changed_reads_no_run_and_one_after_a_new_run_verifies_only_that_run(synthetic_copy, tmp_path):
    from generators.run_index import RunIndex
    from generators.incremental import HashCache

    generate(synthetic_copy, tmp_path)
    assert "nothing changed since the last publish" in generate(synthetic_copy, tmp_path)
    (new,) = make_runs(synthetic_copy, 1, seed=12, start=LATER)
    index = RunIndex(tmp_path / "content", synthetic_copy, HashCache(tmp_path / "content").sha256)
    runs = index.load()
    assert index.fresh == [new.name] and len(runs) == 25  # the other 24 come from the index, unread
    indexed = [r for r in runs if type(r).__name__ == "IndexedRun"]
    assert len(indexed) == 24

    # The site budget sizes and places every run from the index too: no record is read to keep a site in its budget.
    from generators import site_budget
    from generators.runs import load_runs

    sizes = site_budget.footprint(runs)
    placement = site_budget.place(runs, int((sum(sizes.values()) - sizes["figures and files"] // 2) / site_budget.HEADROOM), {})
    placed = site_budget.apply(runs, placement, "https://example.org/store/")
    assert placement.stored and sum(bool(r.stored) for r in placed) == len(placement.stored)
    assert all(r._full is None for r in indexed), "a record was read to size or place the site"
    read = {r.id: r.footprint for r in load_runs(synthetic_copy)}
    assert {r.id: r.footprint for r in runs} == read  # what the index kept is what the records say


def test_a_new_run_rewrites_one_bucket_of_the_run_index_and_a_damaged_bucket_makes_everything_verified_again(
        synthetic_copy, tmp_path):
    import gc

    from generators import run_index

    generate(synthetic_copy, tmp_path)
    state = tmp_path / "content" / ".trainbook"
    def read(folder):
        return {p.name: p.read_bytes() for p in (state / folder).iterdir()}

    buckets, stamps = read(run_index.ENTRIES), read(run_index.STAMP_BUCKETS)
    (new,) = make_runs(synthetic_copy, 1, seed=13, start=LATER)
    generate(synthetic_copy, tmp_path)
    for before, folder in ((buckets, run_index.ENTRIES), (stamps, run_index.STAMP_BUCKETS)):
        after = read(folder)
        changed = {name for name in after if after[name] != before.get(name)}
        assert changed == {f"{run_index.bucket_of(new.name)}.json"}, folder  # the other runs' are not written again
    assert gc.isenabled() and gc.get_freeze_count() == 0  # the publish gave the collector back as it found it

    damaged = state / run_index.ENTRIES / next(iter(sorted(buckets)))
    damaged.write_bytes(damaged.read_bytes().replace(b'"sealed":true', b'"sealed":false', 1))
    (other,) = make_runs(synthetic_copy, 1, seed=14, start=LATER.replace(day=2))
    index = run_index.RunIndex(tmp_path / "content", synthetic_copy, lambda path: "")
    index.scan()
    assert index.check_now == {other.name}  # the stamps alone cannot tell the entries were edited...
    index.load()
    assert sorted(index.fresh) == sorted(index.found)  # ...reading them can: every run is read and verified again, none taken on trust
    damaged = state / run_index.STAMP_BUCKETS / sorted(stamps)[0]
    damaged.write_bytes(damaged.read_bytes().replace(b":", b":1", 1))  # a stamp the runs' files would match no more
    index = run_index.RunIndex(tmp_path / "content", synthetic_copy, lambda path: "")
    index.scan()
    assert index.check_now == set(index.found)  # a stamps bucket not as written: no run is taken as known


def test_an_edited_ledger_line_is_caught_though_no_run_folder_changed(synthetic_copy, tmp_path):
    generate(synthetic_copy, tmp_path)
    ledger = synthetic_copy / "ledger.jsonl"
    lines = ledger.read_bytes().splitlines(keepends=True)
    assert b'"status": "ok"' in lines[3]
    lines[3] = lines[3].replace(b'"status": "ok"', b'"status": "failed"')  # no run folder is touched
    ledger.write_bytes(b"".join(lines))
    run = json.loads(lines[3])["run"]
    generate(synthetic_copy, tmp_path)
    page = (tmp_path / "content" / "runs" / run / "index.md").read_text()
    assert "Verification failed" in page and "ledger line 4: edited" in page


def test_a_run_still_training_is_not_published_until_it_is_sealed_except_by_a_live_publish(synthetic_copy, tmp_path):
    from trainer.tracking import locks

    run = next(p for p in synthetic_copy.iterdir() if p.name.startswith("market-pg-"))
    record = json.loads((run / "run.json").read_text())
    record["status"] = "running"
    (run / "run.json").write_text(json.dumps(record))
    lock = locks.acquire(run / ".lock")  # as the training process holds it
    try:
        log = generate(synthetic_copy, tmp_path / "site")
        assert f"still training, not published until sealed ({run.name})" in log
        assert not (tmp_path / "site" / "content" / "runs" / run.name).exists()
        generate(synthetic_copy, tmp_path / "live", "--live")
        page = (tmp_path / "live" / "content" / "runs" / run.name / "index.md").read_text()
        assert "Training now" in page and 'data-live="../../live/' in page
    finally:
        lock.close()
