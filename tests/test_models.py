"""Models that stay: a finished run keeps its weights only, sealed in its record; the site offers them and names
each experiment's current model; `trainer sample` and `trainer eval` use a run folder, a published page served
over HTTP or EXPERIMENT@current, and refuse any file that is not the one the ledger's record lists."""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from trainer import cli
from trainer.tracking import layout, weights
from trainer.tracking.run import Run
from tests.conftest import run_cli
from tests.synthetic import clone_run, template
from tests.test_browser import serve
from tests.test_history import publish


def only_run(runs: Path) -> Path:
    (run,) = layout.run_folders(runs)
    return run


def record_of(run: Path) -> dict:
    return json.loads((run / layout.RECORD).read_text())


def samples_in(text: str) -> list[str]:
    """The sample texts of a samples.txt or of `trainer sample`'s output (each after its `--- sample N ---` line)."""
    return [part.rstrip("\n") for part in re.split(r"^--- sample \d+ ---\n", text, flags=re.M)[1:]]


def trainer(*args: str) -> tuple[int, str, str]:
    """The trainer's command line in this process (torch is imported already): (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(args))
    return status, out.getvalue(), err.getvalue()


def test_a_finished_run_keeps_its_weights_only_sealed_in_its_record(gpt_runs):
    run = only_run(gpt_runs)
    record = record_of(run)
    section = record["weights"]
    assert section["final"] == {"file": layout.WEIGHTS, "step": 200} and section["max_bytes"] == 8 << 20
    assert layout.WEIGHTS in record["artifacts"] and layout.model_files(record) == {layout.WEIGHTS: record["artifacts"][layout.WEIGHTS]}
    state = weights.load(run / layout.WEIGHTS)
    assert set(state) == {"format", "role", "step", "model"} and state["role"] == "final"  # no optimiser, no RNG
    full = torch.load(run / layout.CHECKPOINT, weights_only=True)
    assert state["model"].keys() == full["model"].keys()
    assert all(torch.equal(state["model"][k], full["model"][k]) for k in state["model"])
    assert (run / layout.WEIGHTS).stat().st_size < (run / layout.CHECKPOINT).stat().st_size / 2


def test_sample_draws_the_runs_own_samples_again_and_continues_a_prompt(gpt_runs):
    run = only_run(gpt_runs)
    again = run_cli("trainer", "sample", str(run))
    assert again.returncode == 0, again.stderr
    assert samples_in(again.stdout) == samples_in((run / layout.SAMPLES).read_text())  # the same weights, the same seed
    assert f"from {run.name} ({layout.WEIGHTS} at step 200, sha256 verified)" in again.stderr

    status, out, _ = trainer("sample", str(run), "--prompt", "ROMEO:", "--count", "3", "--max-tokens", "25")
    texts = samples_in(out)
    assert status == 0 and len(texts) == 3 and all(t.startswith("ROMEO:") and len(t) == len("ROMEO:") + 25 for t in texts)


def test_an_mlp_run_samples_words_that_start_with_the_prompt(tiny_runs):
    run = only_run(tiny_runs)
    status, out, _ = trainer("sample", str(run))
    assert status == 0 and "\n".join(samples_in(out)) == (run / layout.SAMPLES).read_text().rstrip("\n")
    status, out, _ = trainer("sample", str(run), "--prompt", "mc", "--count", "4")
    assert status == 0 and len(samples_in(out)) == 4 and all(w.startswith("mc") for w in samples_in(out))
    status, _, err = trainer("sample", str(run), "--prompt", "M!")
    assert status == 2 and "'M' is not a letter of this run's vocabulary" in err


def test_a_tampered_weights_file_is_refused_naming_both_hashes(gpt_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(gpt_runs, runs)
    run = only_run(runs)
    sealed = record_of(run)["artifacts"][layout.WEIGHTS]["sha256"]
    data = bytearray((run / layout.WEIGHTS).read_bytes())
    data[-200] ^= 1  # one bit of one weight
    (run / layout.WEIGHTS).write_bytes(bytes(data))

    refused = run_cli("trainer", "sample", str(run))

    assert refused.returncode == 2 and refused.stdout == ""
    assert f"{run / layout.WEIGHTS}: edited: its sha256 is " in refused.stderr and f"the record's is {sealed}" in refused.stderr


def test_a_record_edited_after_it_was_sealed_is_refused(gpt_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(gpt_runs, runs)
    run = only_run(runs)
    record = record_of(run)
    record["metrics"]["val_loss"] = 0.5  # a better number, and a new weights hash to go with a swapped file
    (run / layout.RECORD).write_text(json.dumps(record))

    status, out, err = trainer("sample", str(run))

    assert status == 2 and out == ""
    assert "run.json: edited: its sha256 is" in err and "ledger line 1 sealed" in err


def test_eval_scores_a_hellaswag_file_as_the_run_scored_itself(gpt_runs, tmp_path):
    run = only_run(gpt_runs)
    out = tmp_path / "eval.json"
    status, _, err = trainer("eval", str(run), "--file", str(run / layout.CHOICE_SET), "--out", str(out))
    assert status == 0, err
    scored, recorded = json.loads(out.read_text()), json.loads((run / layout.CHOICES).read_text())
    assert {k: scored[k] for k in ("acc", "acc_norm", "examples", "skipped")} == \
        {k: recorded[k] for k in ("acc", "acc_norm", "examples", "skipped")}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"ctx": "To be", "endings": ["a", "b"], "label": 0}\n')
    status, _, err = trainer("eval", str(run), "--file", str(bad))
    assert status == 2 and "--file" in err and "'endings' must be a list of 4 strings" in err


def test_sample_and_eval_refuse_what_the_runs_engine_cannot_do(tiny_runs, tmp_path):
    status, _, err = trainer("eval", str(only_run(tiny_runs)), "--file", str(tmp_path))
    assert status == 2 and "no such file" in err
    (tmp_path / "x.jsonl").write_text("{}\n")
    status, _, err = trainer("eval", str(only_run(tiny_runs)), "--file", str(tmp_path / "x.jsonl"))
    assert status == 2 and "the 'mlp' engine that trained it does not score multiple-choice questions" in err


def test_a_model_over_the_cap_is_not_exported_and_the_record_says_why(tmp_path):
    run = Run.create(tmp_path / "runs", experiment="big", config={"name": "big"}, config_sha256="0" * 64, config_yaml="name: big\n",
                     source="big.yaml", overrides=[], seeds={}, data={})
    (run.file(layout.METRICS)).write_text('{"step": 5, "train_loss": 1.0}\n')
    section = weights.export(run, {"w": torch.zeros(64, 1024)}, max_mib=0.125)  # 256 KiB of weights, a 128 KiB cap
    assert "final" not in section and not run.file(layout.WEIGHTS).exists()
    assert section["left_out"].startswith("0.2 MiB of final weights exceed tracking.weights_max_mib (0.125 MiB)")
    section = weights.export(run, {"w": torch.zeros(16, 1024)}, max_mib=0.125)
    assert section["final"] == {"file": layout.WEIGHTS, "step": 5} and weights.load(run.file(layout.WEIGHTS))["step"] == 5
    run.release()


def test_the_current_model_is_the_newest_run_that_passed_its_gates(tiny_runs, tmp_path):
    runs = tmp_path / "runs"
    real = template(tiny_runs)
    gated = {"gates": {"val_loss": "<= 2.4"}}
    passed = clone_run(real, runs, "names-mlp", 1, metrics={"val_loss": 2.3}, config=gated)
    best = clone_run(real, runs, "names-mlp", 2, metrics={"val_loss": 2.2}, config={"gates": {"val_loss": "<= 2.1"}})
    clone_run(real, runs, "names-mlp", 3, metrics={"val_loss": 2.5}, config=gated)  # newest finished, gate failed
    latest = clone_run(real, runs, "names-mlp", 4, status="failed", reason="loss became nan", config=gated)

    for which, expected in (("current", passed), ("best", best), ("latest", latest)):
        status, _, err = trainer("sample", f"names-mlp@{which}", "--runs-dir", str(runs), "--count", "1")
        assert (status == 0) == (which != "latest"), err
        assert expected.name in err
    assert f"run {latest.name} failed; only a finished run's model is used" in err

    site = publish(runs, tmp_path / "site")
    page = (site / "experiments" / "names-mlp" / "index.html").read_text()
    assert re.search(rf"Current model</td>\s*<td><a href=\"\.\./\.\./runs/{passed.name}/\">", page)
    assert f'href="../../runs/{passed.name}/model.weights.pt"' in page
    registry = json.loads((site / layout.SITE_MODELS).read_text())["experiments"]["names-mlp"]
    assert (registry["current"], registry["best"], registry["latest"]) == (passed.name, best.name, latest.name)
    assert registry["runs"][passed.name]["files"] == {layout.WEIGHTS: record_of(passed)["artifacts"][layout.WEIGHTS]}


# --- a published site, served over HTTP -----------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory, gpt_runs) -> Path:
    """A built site (Hugo, with its published history) of the tiny GPT run."""
    work = tmp_path_factory.mktemp("model-site")
    return publish(gpt_runs, work)


@contextlib.contextmanager
def served(folder: Path):
    """`folder` on http://127.0.0.1:<free port>/."""
    server, url = serve(folder)
    try:
        yield url
    finally:
        server.shutdown()


def test_the_run_page_offers_the_weights_that_the_history_keeps(site, gpt_runs):
    run = only_run(gpt_runs)
    facts = record_of(run)["artifacts"][layout.WEIGHTS]
    assert (site / "runs" / run.name / layout.WEIGHTS).read_bytes() == (run / layout.WEIGHTS).read_bytes()
    page = (site / "runs" / run.name / "index.html").read_text()
    assert f'<a href="{layout.WEIGHTS}" download>{layout.WEIGHTS}</a>' in page and facts["sha256"] in page
    index = json.loads((site / "history" / "index.json").read_text())
    assert index["format"] == "trainbook-history-2" and index["runs"][run.name][layout.WEIGHTS] == "page"


def test_sample_from_a_published_run_page_checks_the_download_first(site, gpt_runs, tmp_path):
    run = only_run(gpt_runs)
    cache = {"TRAINBOOK_CACHE_DIR": str(tmp_path / "cache")}
    with served(site) as url:
        result = run_cli("trainer", "sample", f"{url}runs/{run.name}/", env=cache)
        by_name = run_cli("trainer", "sample", "shakespeare-char-gpt@current", "--site", url, "--count", "1", env=cache)
    assert result.returncode == 0, result.stderr
    assert samples_in(result.stdout) == samples_in((run / layout.SAMPLES).read_text())
    assert (tmp_path / "cache" / "downloads" / record_of(run)["artifacts"][layout.WEIGHTS]["sha256"]).is_file()
    assert by_name.returncode == 0 and run.name in by_name.stderr


def test_a_published_file_that_differs_from_its_record_is_refused(site, gpt_runs, tmp_path):
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    run = only_run(gpt_runs)
    weights_file = copy / "runs" / run.name / layout.WEIGHTS
    weights_file.write_bytes(weights_file.read_bytes()[:-10] + b"0123456789")
    with served(copy) as url:
        status, out, err = trainer("sample", f"{url}runs/{run.name}/")
        (copy / "history" / "ledger.jsonl").write_text("")
        unsealed, _, unsealed_err = trainer("sample", f"{url}runs/{run.name}/")
    assert status == 2 and out == ""
    assert f"runs/{run.name}/{layout.WEIGHTS}: downloaded content has sha256" in err and "refusing to load it" in err
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*"))
    assert unsealed == 2 and f"no line seals run {run.name}" in unsealed_err
