"""Hostile strings and planted secrets, end to end: one real tiny run, one Hugo and one MkDocs build.

The run's config carries HTML, Markdown, shortcode, Jinja, path, bidi-override and control-character
strings in its description, notes and tags, and trains on words made of `<>{}&"/`, so the samples it
generates carry them too; a sealed copy of it adds exact hostile sample lines and a hostile failure
reason. It trains in a throwaway git checkout whose remote URL holds a password, with tokens and keys
planted in the environment of the trainer and of every publishing step. The built pages are read with
the standard library's HTML parser: each string must be there as text, nothing may have become an
element, an attribute or a script, and no planted secret may appear in any record, page or log.
"""
from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_cli, snapshot
from tests.sitebuild import AUTHORED, BIN
from tests.synthetic import clone_run
from trainer.tracking import ledger
from trainer.tracking.files import sha256_bytes
from trainer.tracking import layout

HTML_TAG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = "\"><svg onload=alert(1)>'"
"""closes a quoted attribute if a theme prints it unescaped into one (MkDocs Material's meta description)"""
MARKDOWN = "**bold** _em_ [link](javascript:alert(1)) `tick` | a | b |"
SHORTCODES = "shortcode[{{< param x >}}] {{% x %}}"
JINJA = "jinja[{{ 7*7 }}] {% raw %}"
ENTITIES = "&lt;b&gt; &amp; &#60;i&#62;"
PATH = "../../etc/passwd"
BIDI = "abc\u202edcba"
CONTROLS = "nul[\x00] esc[\x1b[31m] bell[\x07]"
LONG = "<b>&{{x}}/" * 300
FAMILIES = [HTML_TAG, SCRIPT, ATTRIBUTE, MARKDOWN, SHORTCODES, JINJA, ENTITIES, PATH, BIDI, CONTROLS, LONG]
DESCRIPTION = " ".join(FAMILIES)
NOTES = f"# heading\n\n| a | b |\n| - | - |\n{SCRIPT}\n{JINJA}\n{SHORTCODES}\n"
TAGS = [HTML_TAG, SCRIPT, ATTRIBUTE, SHORTCODES, JINJA, PATH, BIDI, "a" * 300, "слово", "日本語"]
WORDS = ["<b>", "</i>", "{{x}}", "{%y%}", "a&b", '"q"', "a/b", "<script>", "&amp;", "{{<p>}}", 'x"y', "</a>", "c{d}e", "f&g/h"]
"""words made of the characters that mean something to HTML, Markdown, Hugo and Jinja (`.` ends a word, so it cannot be one)"""
REASON = f"diverged after {SCRIPT} {SHORTCODES} {PATH}"

_PICTURES = {c: 0x2400 + c for c in range(32) if chr(c) not in "\t\n\r"} | {0x7F: 0x2421}


def shown(text: str) -> str:
    """How a page shows text: control characters as their Unicode pictures (NUL as U+2400)."""
    return text.translate(_PICTURES)


SECRETS = {name: f"{name.lower().replace('_', '-')}-planted-7d3f" for name in
           ("GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "MY_SERVICE_TOKEN", "OPENAI_API_KEY", "DB_PASSWORD")}
REMOTE_PASSWORD = "s3cr3t-remote-planted-7d3f"
CI = {"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/pull/7/merge", "GITHUB_RUN_ID": "4242"}
"""a CI job's public identifiers, so the record's trigger is read from the same environment as the secrets"""
MARKERS = [*SECRETS.values(), REMOTE_PASSWORD]
SAFE_NAME = re.compile(r"[A-Za-z0-9_.@-]+")
"""every file and folder name a site may have"""


class HTMLPage(html.parser.HTMLParser):
    """A built page as the browser sees it: elements with attributes, text, and the text of each <pre> and <script>."""

    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.path = path
        self.elements: list[tuple[str, dict]] = []
        self.chunks: list[str] = []
        self.pre: list[str] = []
        self.scripts: list[tuple[dict, str]] = []
        self._open: list[tuple[str, dict, list[str]]] = []
        self.raw = path.read_text(encoding="utf-8")
        self.feed(self.raw)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if tag in ("pre", "script"):
            self._open.append((tag, attrs, []))

    def handle_endtag(self, tag):
        if self._open and self._open[-1][0] == tag:
            _, attrs, parts = self._open.pop()
            (self.pre.append("".join(parts)) if tag == "pre" else self.scripts.append((attrs, "".join(parts))))

    def handle_data(self, data):
        for _, _, parts in self._open:
            parts.append(data)
        if not any(tag == "script" for tag, _, _ in self._open):
            self.chunks.append(data)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _checkout(work: Path) -> Path:
    """A git checkout of the trainer whose remote URL holds a password (the audit runs git in it)."""
    checkout = work / "checkout"
    shutil.copytree(REPO / "trainer", checkout / "trainer", ignore=shutil.ignore_patterns("__pycache__"))
    _git(checkout, "init", "--quiet")
    _git(checkout, "add", "-A")
    _git(checkout, "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "--quiet", "-m", "trainer")
    _git(checkout, "remote", "add", "origin", f"https://user:{REMOTE_PASSWORD}@example.com/trainbook.git")
    return checkout


def _hostile_samples(real: Path, runs: Path) -> Path:
    """A sealed copy of the real run, failed with a hostile reason, whose samples are exact hostile lines."""
    folder = clone_run(real, runs, "hostile-samples", minute=None, seal=False, status="failed", reason=REASON)
    samples = ("\n".join([*FAMILIES, *WORDS]) + "\n").encode()
    (folder / "samples.txt").write_bytes(samples)
    record = json.loads((folder / layout.RECORD).read_text())
    record["artifacts"]["samples.txt"] = {"bytes": len(samples), "sha256": sha256_bytes(samples)}
    ledger.seal(runs, folder.name, record)
    return folder


def _publish(work: Path, env: dict) -> dict[str, subprocess.CompletedProcess]:
    """Generators, then Hugo and MkDocs, each a process with `env` (the planted secrets) in its environment."""
    content = work / "content"
    content.mkdir()
    for name in AUTHORED:
        shutil.copy(REPO / "content" / name, content / name)
    full_env = {**os.environ, **env, "NO_MKDOCS_2_WARNING": "1"}
    done = {
        "generate hugo": run_cli("generators", "--runs-dir", str(work / "runs"), "--content", str(content), env=env),
        "generate mkdocs": run_cli("generators", "--runs-dir", str(work / "runs"), "--content", str(content), "--engine", "mkdocs",
                                   "--out", str(work / "mkdocs"), "--site-dir", str(work / "public-mkdocs"), env=env),
    }
    done["hugo"] = subprocess.run([str(BIN / "hugo"), "--quiet", "--source", str(REPO / "site"), "--contentDir", str(content),
                                   "--destination", str(work / "public-hugo")], capture_output=True, text=True, env=full_env)
    done["mkdocs"] = subprocess.run([str(BIN / "mkdocs"), "build", "--strict", "-f", str(work / "mkdocs" / "mkdocs.yml")],
                                    capture_output=True, text=True, env=full_env)
    for step, result in done.items():
        assert result.returncode == 0, f"{step}: {result.stderr}"
    return done


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """One real tiny run with hostile strings and planted secrets, a hostile copy of it, and both sites built from them."""
    work = tmp_path_factory.mktemp("hostile")
    repo_status = _git(REPO, "status", "--porcelain")
    checkout = _checkout(work)
    (work / "words.txt").write_text("\n".join(WORDS) + "\n")
    experiment = (REPO / "experiments" / "names-mlp.yaml").read_text().split("\ngates:")[0]  # no gates: 50 steps miss them
    experiment = re.sub(r"(?m)^(name|description|tags):.*(\n  .*)*", "", experiment)
    header = {"name": "hostile", "description": DESCRIPTION, "tags": TAGS}
    (work / "hostile.yaml").write_text(_yaml(header) + experiment)
    notes = f"notes={NOTES}"
    overrides = ["train.steps=50", "train.eval_interval=25", "sample.count=5", f"data.path={work / 'words.txt'}", notes]
    trained = run_cli("trainer", "run", str(work / "hostile.yaml"), *overrides, runs_dir=work / "runs", cwd=checkout,
                      env={**SECRETS, **CI})
    assert trained.returncode == 0, trained.stderr
    real = Path(trained.stdout.strip().splitlines()[-1])
    synthetic = _hostile_samples(real, work / "runs")
    logs = {"trainer": trained, **_publish(work, {**SECRETS, **CI})}
    return {"work": work, "real": real, "synthetic": synthetic, "logs": logs, "notes": notes, "checkout": checkout,
           "repo_status": repo_status}


def _yaml(header: dict) -> str:
    return yaml.safe_dump(header, allow_unicode=True, sort_keys=False, width=1 << 20)


ENGINES = ("hugo", "mkdocs")


def site(hostile, engine: str) -> Path:
    return hostile["work"] / f"public-{engine}"


def page(hostile, engine: str, url: str) -> HTMLPage:
    return HTMLPage(site(hostile, engine) / url / "index.html")


@pytest.mark.parametrize("engine", ENGINES)
def test_hostile_description_and_tags_are_shown_literally_on_the_experiment_and_run_pages(hostile, engine):
    experiment = page(hostile, engine, "experiments/hostile")
    lede = shown(DESCRIPTION)
    assert lede in experiment.text
    description = [a["content"] for t, a in experiment.elements if t == "meta" and a.get("name") == "description"]
    assert description == [lede]  # one meta description, the attribute closed where it should be
    run = page(hostile, engine, f"runs/{hostile['real'].name}")
    for html_page in (experiment, run):
        for tag in TAGS:
            assert shown(tag) in html_page.text, f"{html_page.path}: tag {tag[:40]!r} not shown"
    for tag in (HTML_TAG, SCRIPT, PATH):
        term = page(hostile, engine, f"tags/{re.sub('[^a-z0-9]+', '-', tag.lower()).strip('-')}")
        assert f"Tag: {tag}" in term.text  # its title, as text (MkDocs Material prints titles unescaped)
        assert [t for t, _ in term.elements if t == "h1"] == ["h1"]


@pytest.mark.parametrize("engine", ENGINES)
def test_config_notes_overrides_and_samples_are_shown_verbatim_in_their_blocks(hostile, engine):
    real, synthetic = hostile["real"], hostile["synthetic"]
    run = page(hostile, engine, f"runs/{real.name}")
    config = (real / "config.yaml").read_text()
    assert "# heading" in config and "<script>" in config
    assert shown(config.rstrip("\n")) in run.pre  # the resolved config (the notes in it), byte for byte
    samples = (real / "samples.txt").read_text()
    assert sum(c in samples for c in "<>{}&\"/") >= 4, samples  # the model really generated hostile characters
    assert samples.rstrip("\n") in run.pre
    assert hostile["notes"].replace("\n", " ") in run.text  # the override, in the "with overrides" code span
    copy = page(hostile, engine, f"runs/{synthetic.name}")
    assert shown((synthetic / "samples.txt").read_text().rstrip("\n")) in copy.pre
    assert shown(REASON) in copy.text


@pytest.mark.parametrize("engine", ENGINES)
def test_shortcodes_and_jinja_are_printed_not_evaluated(hostile, engine):
    for url in ("experiments/hostile", f"runs/{hostile['real'].name}", f"runs/{hostile['synthetic'].name}"):
        text = page(hostile, engine, url).text
        assert "jinja[{{ 7*7 }}]" in text and "{% raw %}" in text
        assert "jinja[49]" not in text and "jinja[]" not in text
        assert "shortcode[{{< param x >}}]" in text and "{{% x %}}" in text
        assert "shortcode[]" not in text


def local(root: Path, here: Path, url: str) -> Path:
    """The file a same-site URL on the page in folder `here` points at (site-absolute URLs start at `root`)."""
    url = url.split("#")[0].split("?")[0]
    return (root / url.lstrip("/") if url.startswith("/") else here / url).resolve()


def _pages(root: Path) -> list[HTMLPage]:
    pages = [HTMLPage(p) for p in sorted(root.rglob("*.html"))]
    assert len(pages) > 15
    return pages


@pytest.mark.parametrize("engine", ENGINES)
def test_no_page_has_an_injected_element_attribute_script_or_javascript_link(hostile, engine):
    root = site(hostile, engine)
    for html_page in _pages(root):
        here = html_page.path.parent
        for tag, attrs in html_page.elements:
            handlers = [name for name in attrs if name.startswith("on")]
            assert not handlers, f"{html_page.path}: <{tag}> has {handlers}"
            for name in ("href", "src", "action", "formaction", "xlink:href"):
                value = (attrs.get(name) or "").strip().lower()
                assert not value.startswith(("javascript:", "vbscript:", "data:text/html")), f"{html_page.path}: <{tag} {name}={value}>"
            assert tag not in ("iframe", "object", "embed", "base"), f"{html_page.path}: injected <{tag}>"
            if tag == "img":
                src = attrs.get("src") or ""
                assert src.startswith("data:image/") or local(root, here, src).is_file(), f"{html_page.path}: <img src={src}>"
        for attrs, body in html_page.scripts:
            if attrs.get("src"):  # the site's own scripts, shipped with it
                script = local(root, here, attrs["src"])
                assert script.is_relative_to(root.resolve()) and script.is_file(), f"{html_page.path}: <script src={attrs['src']}>"
            else:
                assert "alert" not in body, f"{html_page.path}: inline script {body[:80]!r}"
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", html_page.raw), f"{html_page.path}: raw control character"


@pytest.mark.parametrize("engine", ENGINES)
def test_tag_urls_and_every_file_name_are_sanitised(hostile, engine):
    root = site(hostile, engine)
    terms = sorted(p.name for p in (root / "tags").iterdir() if p.is_dir())
    assert len(terms) == len(TAGS)  # ten tags, ten term pages: none dropped, none merged
    assert all(re.fullmatch(r"[a-z0-9-]{1,64}", t) for t in terms), terms
    assert "etc-passwd" in terms
    for folder in (root, hostile["work"] / "content", hostile["work"] / "mkdocs"):
        for path in folder.rglob("*"):
            assert all(SAFE_NAME.fullmatch(part) for part in path.relative_to(folder).parts), path
    for html_page in _pages(root):
        url = html_page.path.parent.relative_to(root).as_posix()
        for tag, attrs in html_page.elements:
            target = attrs.get("href") if tag in ("a", "link") else attrs.get("src") if tag in ("img", "script") else None
            if not target or re.match(r"[a-z]+:|#|//", target):
                continue
            assert local(root, html_page.path.parent, target).is_relative_to(root.resolve()), f"{html_page.path}: {target} leaves the site"


def test_nothing_is_written_outside_the_run_content_and_site_folders(hostile):
    work = hostile["work"]
    outputs = {"checkout", "runs", "content", "mkdocs", "public-hugo", "public-mkdocs", "words.txt", "hostile.yaml"}
    assert {p.name for p in work.iterdir()} <= outputs
    assert not list(work.parent.glob("**/passwd")) and not list(work.rglob("*passwd*.*"))
    assert _git(REPO, "status", "--porcelain") == hostile["repo_status"]
    # The trainer's own working folder got its cache and nothing named after a hostile string.
    assert {p.name for p in hostile["checkout"].iterdir()} <= {".git", "trainer", ".cache"}


def test_planted_secrets_appear_in_no_record_page_site_or_log(hostile):
    work, record = hostile["work"], json.loads((hostile["real"] / layout.RECORD).read_text())
    # The secrets were really there: the trigger was read from the same environment, and git ran in the checkout.
    assert record["trigger"]["by"] == "ci" and record["trigger"]["pull_request"] == 7
    assert record["code"]["commit"] == _git(hostile["checkout"], "rev-parse", "HEAD").strip()
    files = [p for folder in ("runs", "content", "mkdocs", "public-hugo", "public-mkdocs") for p in (work / folder).rglob("*") if p.is_file()]
    assert len(files) > 100
    for path in files:
        data = path.read_bytes()
        for marker in MARKERS:
            assert marker.encode() not in data, f"{path} contains a planted secret"
    for step, result in hostile["logs"].items():
        for marker in MARKERS:
            assert marker not in result.stdout + result.stderr, f"{step}'s output contains a planted secret"


def _refused(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The trainer's command line, run from an empty folder, with its runs folder inside it; nothing may be written."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    result = run_cli("trainer", "run", *args, runs_dir=cwd / "runs", cwd=cwd, env={"PYTHONPATH": str(REPO)}, timeout=120)
    assert result.returncode == 2, result.stderr
    assert snapshot(cwd) == {}
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    return result


@pytest.mark.parametrize("name", ["../../etc/passwd", "<script>alert(1)</script>", "a/b", "{{ 7*7 }}", "Names", "x\u202eabc", ".."])
def test_a_hostile_experiment_name_is_refused_and_nothing_is_written(tmp_path, name):
    result = _refused(tmp_path, str(REPO / "experiments" / "names-mlp.yaml"), f"name={name}")
    assert ": name: expected 1-64 lower-case letters" in result.stderr


@pytest.mark.parametrize("experiment, override, key", [
    ("names-mlp", "data.path=https://user:{pw}@example.com/words.txt", "data.path"),
    ("shakespeare-char-gpt", "data.url=https://user:{pw}@example.com/input.txt", "data.url"),
    ("shakespeare-char-gpt", "data.url=https://{pw}@example.com/input.txt", "data.url"),  # a token in the user's place
    ("names-mlp", "notes=mirrored at ftp://admin:{pw}@10.0.0.7/names", "notes"),
    ("shakespeare-char-gpt", "data.url=https://example.com/input.txt?dl=1&access_token={pw}", "data.url"),
    ("names-mlp", "notes=from https://bucket.s3.amazonaws.com/names?X-Amz-Credential=AKIA&X-Amz-Signature={pw} today", "notes"),
    ("names-mlp", "train.steps=https://user:{pw}@example.com", "train.steps"),  # a wrong type is refused without echoing it
])
def test_a_config_value_with_a_password_in_an_address_is_refused_without_echoing_it(tmp_path, experiment, override, key):
    password = "pw-planted-7d3f"
    extra = [f"data.sha256={'0' * 64}"] if key == "data.url" else []
    result = _refused(tmp_path, str(REPO / "experiments" / f"{experiment}.yaml"), override.format(pw=password), *extra)
    assert f": {key}: holds an address with credentials" in result.stderr
    assert password not in result.stdout + result.stderr


def test_a_usage_error_does_not_echo_a_password_either(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    result = run_cli("trainer", "run", "x.yaml", "--token=https://user:pw-planted-7d3f@example.com", cwd=cwd, env={"PYTHONPATH": str(REPO)})
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr
    assert "pw-planted-7d3f" not in result.stderr and "https://***@example.com" in result.stderr
