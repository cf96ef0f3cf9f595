"""`python -m trainer verify` passes on fresh runs and names the run when any recorded byte changes."""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from trainer.tracking import ledger
from tests.conftest import run_cli

ARTIFACTS = ["run.json", "config.yaml", "metrics.jsonl", "samples.txt", "embeddings.json", "checkpoint.pt", "best.pt",
             "loss.png", "lr.png", "grad_norm.png", "throughput.png", "embeddings.png"]


def only_run(runs):
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def flip_one_byte(path, offset_fraction=0.5):
    data = bytearray(path.read_bytes())
    i = int(len(data) * offset_fraction)
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def test_fresh_runs_verify(tiny_runs):
    result = run_cli("trainer", "verify", runs_dir=tiny_runs)
    assert result.returncode == 0, result.stdout + result.stderr
    run = only_run(tiny_runs)
    assert result.stdout.splitlines() == [f"ok      {run.name}"]


@pytest.mark.parametrize("name", ARTIFACTS)
def test_changing_any_byte_of_a_record_or_artifact_fails_verify_naming_the_run(runs_copy, name):
    run = only_run(runs_copy)
    flip_one_byte(run / name)
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1
    assert f"FAILED  {run.name}" in result.stdout and name in result.stdout


def test_missing_artifact_is_named(runs_copy):
    run = only_run(runs_copy)
    (run / "samples.txt").unlink()
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1 and "samples.txt: missing" in result.stdout


def seal_a_copy(runs, suffix="0000000", first=None):
    """A second sealed run (a copy of the first under a new id), so the ledger has two chained lines."""
    first = first or only_run(runs)
    second = runs / (first.name[:-7] + suffix)
    shutil.copytree(first, second)
    record = json.loads((second / "run.json").read_text())
    record["run_id"] = second.name
    record.pop("sealed")  # the copy is sealed by its own line
    ledger.seal(runs, second.name, record)
    return second


def three_sealed(runs):
    """The ledger with three chained lines (the trained run and two sealed copies), and their run ids."""
    first = only_run(runs)
    return [first.name, seal_a_copy(runs, "0000001").name, seal_a_copy(runs, "0000002", first).name]


def edit_ledger(runs, change):
    path = runs / "ledger.jsonl"
    path.write_bytes(change(path.read_bytes().splitlines(keepends=True)))


TAMPERING = {
    "ledger line edited": (lambda ls: ls[0].replace(b'"status": "ok"', b'"status": "failed"') + ls[1] + ls[2],
                           "ledger line 1: edited"),
    "last ledger line truncated": (lambda ls: ls[0] + ls[1] + ls[2][:40], "ledger line 3: truncated"),
    "ledger lines reordered": (lambda ls: ls[0] + ls[2] + ls[1], "ledger line 2: reordered (swapped with line 3"),
    "middle ledger line deleted": (lambda ls: ls[0] + ls[2], "line(s) deleted before it (entry 2 is missing"),
    "first ledger line deleted": (lambda ls: ls[1] + ls[2], "ledger line 1: line(s) deleted before it (entry 1 is missing"),
    "ledger line not JSON": (lambda ls: ls[0] + b"{oops\n" + ls[2], "ledger line 2: edited (not a ledger entry: not valid JSON)"),
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_every_kind_of_ledger_tampering_is_detected_and_named(runs_copy, kind):
    three_sealed(runs_copy)
    change, expected = TAMPERING[kind]
    edit_ledger(runs_copy, change)
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1 and expected in result.stdout, result.stdout


def crafted(after: bytes, run: str) -> bytes:
    """A well-formed line that chains to `after` with the next entry number: forged, but consistent by itself."""
    entry = json.loads(after)
    entry.update(seq=entry["seq"] + 1, run=run, prev_sha256=hashlib.sha256(after).hexdigest())
    return (json.dumps(entry, sort_keys=True) + "\n").encode()


ONE_FINDING = {
    "a middle line deleted": (lambda ls: ls[0] + ls[2] + ls[3],
                              "ledger line 2: line(s) deleted before it (entry 2 is missing; it sealed run {1}; it is entry 3)"),
    "a copy of a line inserted": (lambda ls: ls[0] + ls[1] + ls[2] + ls[1] + ls[3], "ledger line 4: inserted (a copy of line 2)"),
    "a forged line inserted": (lambda ls: ls[0] + crafted(ls[0], "forged-20260101T000000Z-0000000") + ls[1] + ls[2] + ls[3],
                               "ledger line 2: inserted (it chains to line 1, but the chain goes on from there at line 3)"),
    "two lines swapped": (lambda ls: ls[0] + ls[2] + ls[1] + ls[3],
                          "ledger line 2: reordered (swapped with line 3: the chain goes from line 3 to line 2)"),
    "a line moved to the end": (lambda ls: ls[0] + ls[2] + ls[3] + ls[1],
                                "ledger line 4: reordered (it chains to line 1, so it belongs right after it)"),
}


@pytest.mark.parametrize("kind", sorted(ONE_FINDING))
def test_a_deleted_inserted_or_moved_line_is_one_finding_on_the_line_at_fault(runs_copy, kind):
    """The lines after a deletion or an insertion still chain to each other: they are not reported as edited."""
    runs = three_sealed(runs_copy)
    runs.append(seal_a_copy(runs_copy, "0000003", runs_copy / runs[0]).name)
    change, expected = ONE_FINDING[kind]
    edit_ledger(runs_copy, change)

    result = run_cli("trainer", "verify", runs_dir=runs_copy)

    assert result.returncode == 1
    assert [line for line in result.stdout.splitlines() if line.startswith("LEDGER")] == ["LEDGER  " + expected.format(*runs)]


def test_deleting_the_last_ledger_line_is_named_because_the_record_remembers_its_seal(runs_copy):
    from tests.conftest import train

    second = train(runs_copy)  # the second line of a ledger that sealed the tiny run first
    edit_ledger(runs_copy, lambda ls: ls[0])
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1
    assert f"ledger line 2: deleted (it sealed run {second.name}" in result.stdout, result.stdout


def test_an_edited_record_is_named_with_the_line_that_sealed_it(runs_copy):
    run = only_run(runs_copy)
    path = run / "run.json"
    path.write_text(path.read_text().replace('"ok"', '"failed"', 1))
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1
    assert f"FAILED  {run.name}: run.json edited (its sha256 differs from the one sealed in ledger line 1)" in result.stdout


def test_a_file_added_to_a_sealed_run_and_a_renamed_folder_are_named(runs_copy):
    run = only_run(runs_copy)
    (run / "extra.txt").write_text("planted")
    renamed = runs_copy / (run.name[:-7] + "fffffff")
    shutil.copytree(run, renamed)
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1
    assert "extra.txt: added after the run was sealed" in result.stdout
    assert f"{renamed.name}: folder renamed or copied (its run.json is the record of run {run.name!r})" in result.stdout


def test_the_site_shows_each_runs_verification_status(runs_copy, tmp_path):
    from tests.sitebuild import build_site

    first, second, third = three_sealed(runs_copy)
    (runs_copy / second / "samples.txt").write_text("planted\n")
    public = build_site(runs_copy, tmp_path)
    page = lambda run: (public / "runs" / run / "index.html").read_text()
    assert "<th scope=\"row\">Verified</th><td>yes</td>" in page(first)
    assert "<th scope=\"row\">Verified</th><td>no</td>" in page(second)
    assert "Verification failed:" in page(second) and "samples.txt: edited" in page(second)


def test_edited_ledger_line_breaks_the_chain(runs_copy):
    seal_a_copy(runs_copy)
    path = runs_copy / "ledger.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0].replace('"status": "ok"', '"status": "failed"') + lines[1])
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1 and "ledger line 1: edited" in result.stdout


def test_deleted_ledger_line_is_detected(runs_copy):
    seal_a_copy(runs_copy)
    path = runs_copy / "ledger.jsonl"
    path.write_text(path.read_text().splitlines(keepends=True)[1])
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1 and "ledger line 1" in result.stdout


def test_unrecorded_run_folder_is_reported(runs_copy):
    run = only_run(runs_copy)
    (runs_copy / "ledger.jsonl").unlink()
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1 and run.name in result.stdout and "ledger line 1: deleted" in result.stdout
