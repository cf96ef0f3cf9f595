"""`python -m generators.report`: the audit report a pull request gets, as GitHub Markdown.

For each experiment, the newest run of the head (the change under review, `--head runs/`) against the
newest finished run of the base (the published history of main, `--base`): status, the key metric with
its change and a better/worse call, every other metric, config differences key by key, code commit,
data hash, reproduction verdict, gate verdicts, and links to the run and comparison pages of the
preview site (`--site-url`).

It always fits in LIMIT characters, whatever the number of runs: a summary table first (rows ordered
by severity, the least interesting summarised in one line when they do not fit), then one section per
experiment in the same order while room remains, then a line naming what was left to the site. Nothing
is cut in the middle of a table. Every value from a run is escaped (markup.inline), so a hostile
experiment note or sample renders as text.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from trainer import gates
from trainer.tracking import layout, picks
from trainer.tracking.files import write_text
from trainer.tracking.layout import runs_dir as default_runs_dir

from . import diff, history, markup, mermaid, sweep_pages
from .runs import RunView, load_runs

MARKER = "<!-- trainbook:pr-audit -->"
"""first line of every report: the pull-request workflow finds its own comment by it"""
LIMIT = 60_000
"""GitHub refuses comments over 65,536 characters; this leaves room for the workflow's own lines"""
CELL = 80
"""longest value shown in a table cell; longer ones are abbreviated (the comparison page has them whole)"""
METRIC_ROWS, CONFIG_ROWS, TAGS = 12, 15, 8
FOOTER_ROOM = 1_500
SUMMARY_SHARE = 0.4
"""at most this share of LIMIT goes to the summary table, so the worst cases always get their details"""

OUTCOMES = {  # severity order: the first ones are what a reviewer must see
    "failed": "❌ failed", "unverified": "❌ does not verify", "gate failed": "❌ gate failed", "worse": "⚠️ worse",
    "not run": "➖ not run", "new": "🆕 new", "incomparable": "≠ not comparable (other unit)", "no metric": "❔ no key metric",
    "better": "✅ better", "same": "= same",
}


@dataclass
class Entry:
    """One experiment: its newest head run against the newest finished base run."""

    experiment: str
    head: RunView | None
    base: RunView | None
    head_runs: int = 0
    verdicts: list[gates.Verdict] = field(default_factory=list)

    @property
    def key(self) -> diff.MetricDelta | None:
        return diff.key_delta(self.base, self.head) if self.head else None

    @property
    def changes(self) -> list[diff.ConfigChange]:
        return diff.config_changes(self.base, self.head) if self.head else []

    @property
    def data_changed(self) -> bool:
        return bool(self.head and self.base and diff.data_hash(self.base) != diff.data_hash(self.head))

    @property
    def outcome(self) -> str:
        if self.head is None:
            return "not run"
        if self.head.status != "ok":
            return "failed"
        if self.head.verification:
            return "unverified"
        if any(not v.passed for v in self.verdicts):
            return "gate failed"
        if self.base is None:
            return "new"
        verdict = self.key.verdict or ""
        return verdict if verdict in ("worse", "better", "same", "incomparable") else "no metric"

    @property
    def severity(self) -> int:
        return list(OUTCOMES).index(self.outcome)


def compare(base: list[RunView], head: list[RunView]) -> list[Entry]:
    """An entry per experiment of either side, most severe first."""
    entries = []
    base, head = [r for r in base if picks.as_declared(r.record)], [r for r in head if picks.as_declared(r.record)]  # sweeps: own section
    for name in sorted({r.experiment for r in base} | {r.experiment for r in head}):
        own = sorted((r for r in head if r.experiment == name), key=lambda r: (r.started, r.id), reverse=True)
        newest = own[0] if own else None
        verdicts = gates.judge_all(gates.declared(newest.record), newest.record) if newest else []
        # A head run that is already published is compared with the run before it, or else with itself.
        others = [r for r in base if newest is None or r.id != newest.id]
        baseline = diff.latest_ok(others, name) or next((r for r in base if newest and r.id == newest.id), None)
        entries.append(Entry(name, newest, baseline, len(own), verdicts))
    return sorted(entries, key=lambda e: (e.severity, e.experiment))


# --- text ----------------------------------------------------------------------------------------

def _cell(value) -> markup.Safe:
    text = "–" if value is None else str(value)
    return markup.inline(text if len(text) <= CELL else text[: CELL - 1] + "…")


URL_SAFE = ":/?#@!$&*+,;=%~-._"
"""characters left as they are in an address the workflow hands in; the rest (spaces, quotes, brackets,
parentheses, angle brackets) are percent-encoded, so no address can end a Markdown link or an attribute early"""


def _address(url: str) -> str:
    """A site address as a Markdown link target: a trailing slash, and nothing that could end the link."""
    url = url.rstrip("/") + "/"
    return urllib.parse.quote(url, safe=":/?#@!$&*+,;=%~-._")


class Links:
    """Where a reviewer opens each page: a run of the published history on the published site (`published_url`);
    a run of this change, and every comparison, on the preview site where it is hosted (`site_url`), else on the
    workflow run's page that holds the preview artifact (`preview_url`), whose one-line instruction the header
    gives; without any of them, the pages' paths as text."""

    def __init__(self, site_url: str | None, published_url: str | None = None, preview_url: str | None = None,
                 published: set[str] = frozenset()):
        self.site = _address(site_url) if site_url else None
        self.published_site = _address(published_url) if published_url else None
        self.artifact = urllib.parse.quote(preview_url, safe=URL_SAFE) if preview_url else None
        self.published = published
        """the ids of the runs the published history holds"""

    def page(self, text: str, path: str) -> str:
        return f"[{markup.inline(text)}]({self.site}{path})" if self.site else str(markup.code(text))

    def run(self, run: RunView) -> str:
        path = f"runs/{markup.url_part(run.id)}/"
        if run.id in self.published and self.published_site:
            return f"[{markup.inline(run.id)}]({self.published_site}{path})"
        if self.site:
            return f"[{markup.inline(run.id)}]({self.site}{path})"
        if self.artifact and run.id not in self.published:
            return f"[{markup.inline(run.id)}]({self.artifact}) (preview: {markup.code(path)})"
        return str(markup.code(run.id))

    def pair(self, entry: Entry) -> str:
        if not (entry.base and entry.head) or entry.base.id == entry.head.id:
            return ""
        path = f"compare/{diff.pair_slug(entry.base, entry.head)}/"
        return f" · [side by side]({self.site}{path})" if self.site else f" · side by side: {markup.code(path)} in the preview"

    def figure(self, entry: Entry) -> str:
        """The comparison page's figure inline, only where GitHub can fetch it (a preview hosted on https)."""
        if not (self.site and self.site.startswith("https://") and entry.base and entry.head) or entry.base.id == entry.head.id:
            return ""
        src = f"{self.site}compare/{diff.pair_slug(entry.base, entry.head)}/{diff.PAIR_FIGURE}"
        return f'\n<img src="{src}" width="420" alt="loss curves of both runs">\n'

    def instruction(self) -> str | None:
        """The one line that says where the pages of this change's runs are, when they are not hosted."""
        if self.site:
            return None
        if self.artifact:
            return (f"This change's run and comparison pages are in the `site-preview` artifact of [the workflow run]({self.artifact}): "
                    "download it, then `unzip site-preview.zip -d site-preview && python3 -m http.server -d site-preview` "
                    "and open the paths named below on http://localhost:8000/.")
        return "Pages named below are in the preview site at `runs/<run>/` and `compare/<base>--<head>/`."


def curves(entry: Entry) -> str:
    """The key metric's curve of both runs as a chart GitHub draws (mermaid.chart), with a caption saying which is which."""
    if entry.head is None:
        return ""
    drawn = mermaid.chart(entry.base, entry.head, f"{entry.experiment}: base vs head")
    if drawn is None:
        return ""
    block, facts = drawn
    return f"\n{block}\n<sub>{markup.inline(facts)}.</sub>\n"


def _gates_text(verdicts: list[gates.Verdict]) -> str:
    if not verdicts:
        return "–"
    failed = sum(not v.passed for v in verdicts)
    return f"{len(verdicts) - failed}/{len(verdicts)} ✅" if not failed else f"{failed}/{len(verdicts)} ❌"


def _changes_text(entry: Entry) -> str:
    parts = [f"config ({len(entry.changes)})"] if entry.changes else []
    return ", ".join(parts + (["data"] if entry.data_changed else [])) or "–"


def summary_row(entry: Entry) -> str:
    k = entry.key
    values = f"{markup.number(k.base)} → {markup.number(k.head)}" if k else "–"
    label = entry.head.key_metric.get("label", k.name) if entry.head else (entry.base.key_metric.get("label") if entry.base else "–")
    return (f"| {markup.inline(entry.experiment)} | {OUTCOMES[entry.outcome]} | {_cell(label)}: {values} | "
            f"{diff.delta_text(k) if k else '–'} | {_gates_text(entry.verdicts)} | {_changes_text(entry)} | {entry.head_runs} |\n")


SUMMARY_HEAD = ("| experiment | outcome | key metric: base → head | change | gates | changed | head runs |\n"
                "| --- | --- | --- | --- | --- | --- | --- |\n")


def _commit(run: RunView) -> str:
    code = run.record.get("code") or {}
    return f"{markup.short(code.get('commit'))}{' (dirty)' if code.get('dirty') else ''}"


def _table(header: str, rows: list[str], limit: int, more: str) -> str:
    shown = rows[:limit]
    text = header + "".join(shown)
    return text + (f"\n{more.format(n=len(rows) - limit)}\n" if len(rows) > limit else "")


def detail(entry: Entry, links: Links) -> str:
    head, base = entry.head, entry.base
    out = [f"### {markup.inline(entry.experiment)}: {OUTCOMES[entry.outcome]}\n\n"]
    if head is None:
        out.append(f"No run of this experiment in this change (experiment file removed, or not trained). "
                   f"Newest published run: {links.run(base)}.\n\n")
        return "".join(out)
    line = f"Head {links.run(head)} ({markup.inline(head.status)}, commit {_commit(head)}, {markup.duration(head.record.get('duration_s'))})"
    if head.tags:
        line = f"{line}, tags {', '.join(markup.code(t) for t in head.tags[:TAGS])}{' …' if len(head.tags) > TAGS else ''}"
    line += f" vs base {links.run(base)} (commit {_commit(base)})" if base else " (no published run to compare with: new experiment)"
    out.append(line + links.pair(entry) + ".\n")
    if entry.head_runs > 1:
        out.append(f"{entry.head_runs} runs of this experiment in this change; the newest is compared.\n")
    if head.record.get("reason"):
        out.append(f"\n> **{markup.inline(head.status)}:** {_cell(head.record['reason'])}\n")
    if head.verification:
        out.append(f"\n> **Does not verify:** {_cell('; '.join(head.verification))}\n")
    rows = [f"| {_cell(d.name)}{' (key)' if d.is_key else ''} | {markup.number(d.base)} | {markup.number(d.head)} | "
            f"{diff.delta_text(d)} | {diff.mark(d)} |\n" for d in diff.metric_deltas(base, head)]
    if rows:
        out.append("\n" + _table("| metric | base | head | change | |\n| --- | --- | --- | --- | --- |\n", rows, METRIC_ROWS,
                                 "{n} more metrics on the comparison page."))
    if entry.verdicts:
        out.append("\n**Gates:** " + "; ".join(
            f"{markup.code(str(v.gate))} got {_cell(v.actual)} {'✅' if v.passed else '❌ ' + str(_cell(v.reason))}"
            for v in entry.verdicts) + "\n")
    if entry.changes:
        rows = [f"| {_cell(c.key)} | {_cell(c.base)} | {_cell(c.head)} |\n" for c in entry.changes]
        out.append(f"\n**Config:** {len(entry.changes)} setting(s) differ.\n\n" + _table(
            "| setting | base | head |\n| --- | --- | --- |\n", rows, CONFIG_ROWS, "{n} more settings differ: see the comparison page."))
    elif base:
        out.append("\n**Config:** identical.\n")
    data_a, data_b = diff.data_hash(base), diff.data_hash(head)
    data = (f"**changed** {markup.short(data_a)} → {markup.short(data_b)}" if entry.data_changed
            else f"sha256 {markup.short(data_b)}{' unchanged' if base else ''}")
    out.append(f"\n**Data:** {_cell((head.record.get('data') or {}).get('source'))}, {data}. "
               f"**Reproduction:** {_cell(diff.reproduction(head) or 'not checked')}.\n")
    out.append(curves(entry))
    out.append(links.figure(entry))
    return "".join(out) + "\n"


def _names(entries: list[Entry], room: int) -> str:
    shown, used = [], 0
    for e in entries:
        used += len(e.experiment) + 2
        if used > room:
            return ", ".join(shown) + f" and {len(entries) - len(shown)} more"
        shown.append(str(markup.inline(e.experiment)))
    return ", ".join(shown)


def header(entries: list[Entry], base_note: str, head_note: str, links: Links) -> str:
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.outcome] = counts.get(e.outcome, 0) + 1
    verdicts = [v for e in entries for v in e.verdicts]
    failed = sum(not v.passed for v in verdicts)
    lines = [
        MARKER, "## Trainbook audit report", "",
        f"**{len(entries)} experiment(s):** " + ", ".join(f"{n} {o}" for o, n in sorted(counts.items(), key=lambda i: list(OUTCOMES).index(i[0])))
        + f" · **gates:** {len(verdicts) - failed} passed, {failed} failed", "",
        f"Head: {head_note}. Base: {base_note}.",
    ]
    if links.site:
        lines.append(f"Preview site: [built from this change and the published history]({links.site}).")
    if links.published_site:
        lines.append(f"Published site: [the runs of the published history]({links.published_site}).")
    if links.instruction():
        lines.append(links.instruction())
    return "\n".join(lines) + "\n\n"


def render_report(base: list[RunView], head: list[RunView], *, base_note: str, head_note: str,
                  site_url: str | None = None, preview_url: str | None = None, published_url: str | None = None,
                  limit: int = LIMIT) -> str:
    """The report, never longer than `limit` characters."""
    _, sweeps = sweep_pages.split(head)
    entries = compare(base, head)
    links = Links(site_url, published_url, preview_url, {r.id for r in base})
    text = header(entries, base_note, head_note, links)
    if not entries:
        return text + sweep_pages.report_section(sweeps, links.page, int(limit * SUMMARY_SHARE)) + "No runs on either side.\n"
    summary, listed = SUMMARY_HEAD, 0
    for entry in entries:
        row = summary_row(entry)
        if len(text) + len(summary) + len(row) > limit * SUMMARY_SHARE:
            break
        summary, listed = summary + row, listed + 1
    if listed < len(entries):
        rest = entries[listed:]
        summary += (f"\n{len(rest)} more experiment(s) not listed to keep this report short: "
                    + ", ".join(f"{sum(e.outcome == o for e in rest)} {o}" for o in OUTCOMES if any(e.outcome == o for e in rest))
                    + (f"; see {links.page('the experiments page', 'experiments/')}" if links.site else "") + ".\n")
    text += summary + "\n" + sweep_pages.report_section(sweeps, links.page, int(limit * SUMMARY_SHARE) - len(summary))
    left_out = []
    for entry in entries:
        section = detail(entry, links)
        if len(text) + len(section) + FOOTER_ROOM > limit:
            left_out.append(entry)
        else:
            text += section
    if left_out:
        text += (f"Details of {len(left_out)} experiment(s) left out to stay under {limit:,} characters "
                 f"(their runs are in the preview site): {_names(left_out, FOOTER_ROOM - 300)}.\n")
    assert len(text) <= limit, len(text)
    return text


# --- loading both sides ----------------------------------------------------------------------------

def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def load_base(where: str | None, scratch: Path) -> tuple[list[RunView], str]:
    """The base runs from a history folder, runs folder, ledger file, built site or site URL."""
    if not where:
        return [], "none yet (no published history: every experiment counts as new)"
    path = Path(where)
    if path.is_file() and path.name == layout.LEDGER:
        path = path.parent
    if not where.startswith(("http://", "https://")) and (path / layout.LEDGER).is_file():
        views = history.load_views(path)
    else:
        history.restore(where, scratch / "base")
        views = history.load_views(scratch / "base")
    if not views:
        return [], f"none yet ({markup.code(where)} holds no published run: every experiment counts as new)"
    return views, f"{_count(len(views), 'run')} of {markup.code(where)} (ledger and records verified)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generators.report", description="Write the pull-request audit report (Markdown).")
    p.add_argument("--base", help=f"published history: a history or runs folder, its {layout.LEDGER}, a built site or a site URL")
    p.add_argument("--head", help="folder of the change's runs (default: $TRAINBOOK_RUNS_DIR or ./runs)")
    p.add_argument("--site-url", help="where the preview site is served, for links (default: page paths as text)")
    p.add_argument("--preview-url", help="where reviewers find the preview site when it is not hosted (the workflow run "
                                         "with its artifact): this change's run pages link there")
    p.add_argument("--published-url", help="the published site, for links to the base runs (default: into the preview)")
    p.add_argument("--out", help="write the report to this file (default: standard output)")
    p.add_argument("--limit", type=int, default=LIMIT, help=f"maximum length in characters (default: {LIMIT})")
    args = p.parse_args(argv)
    args.base, args.site_url, args.preview_url = args.base or None, args.site_url or None, args.preview_url or None  # "" = not given
    args.published_url = args.published_url or None
    head_dir = default_runs_dir(args.head)
    if args.base and not args.base.startswith(("http://", "https://")) and not Path(args.base).exists():
        print(f"error: --base {args.base}: no such file or folder", file=sys.stderr)
        return 2
    if not head_dir.is_dir():
        print(f"error: --head {head_dir}: no such folder (run `make train` first)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        try:
            base, base_note = load_base(args.base, Path(scratch))
        except history.HistoryError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        head = load_runs(head_dir)
        text = render_report(base, head, base_note=base_note, head_note=f"{_count(len(head), 'run')} in {markup.code(str(head_dir))}",
                             site_url=args.site_url, preview_url=args.preview_url, published_url=args.published_url,
                             limit=args.limit)
    if args.out:
        write_text(Path(args.out), text)
        print(f"report: {len(text):,} characters in {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
