"""What the ledger's lines say about each other: which line was edited, deleted, inserted or moved.

Each line names its entry number (`seq`) and the sha256 of the line it follows (`prev_sha256`), so the
lines link into one chain from the genesis hash. `Chain` rebuilds that chain from the links, whatever
order the lines are in, and compares it with the file:

- a line that is not an entry, or the last line cut short: edited, truncated;
- a gap in the chain's entry numbers: entries deleted (one finding, on the line after the gap; a run's
  record remembers the entry that sealed it, so even the last line's deletion is named);
- a broken link with no gap: the line before was edited, or this line's `prev_sha256` (its run's record
  says which);
- a line the chain goes past (it links to a line that another line links to, and the chain goes on from
  that other line), or an exact copy of a line: inserted;
- a chain that visits lines out of file order: reordered (two lines swapped, or one line moved), named by
  the fewest lines that put it in order.

One finding per line, and no consequences of a finding reported as findings of their own: after a
deletion the later lines still chain, so they are not "edited". Linear in the number of lines (plus a
sort for the reordering), so 10,000 runs verify in well under a second of this. Torch-free.
"""
from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from typing import Callable

from . import layout
from .files import sha256_bytes
from .ledger import GENESIS
FIELDS = {"seq": int, "run": str, "experiment": str, "status": str, "record_sha256": str, "prev_sha256": str, "sealed_at": str}
"""every field of a ledger line, with its type"""


@dataclass
class Finding:
    """A problem with one ledger line; `run` is the run the line names, when it can be read."""

    line: int
    message: str
    run: str | None = None

    def __str__(self) -> str:
        return f"ledger line {self.line}: {self.message}"


def parse_line(raw: bytes) -> tuple[dict | None, str | None]:
    """(entry, None) for a well-formed ledger line, or (None, why it is not one)."""
    try:
        entry = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, "not valid JSON"
    if not isinstance(entry, dict):
        return None, "not a JSON object"
    for name, kind in FIELDS.items():
        if not isinstance(entry.get(name), kind) or isinstance(entry.get(name), bool):
            return None, f"{name!r} is missing or malformed"
    if not layout.RUN_ID.fullmatch(entry["run"]):
        return None, f"run {entry['run']!r} is not a run id"
    return entry, None


def _entries(count: int, first: int) -> str:
    return f"entry {first} is" if count == 1 else f"entries {first}-{first + count - 1} are"


class Chain:
    """The ledger's lines (`parse`, then `links`) and the findings about them, by line number.

    `sealed_prev(entry)` is what the run's record says the line before its seal hashed to (None when the
    record does not vouch for this entry); `lost(seq, run)` tells the chain that a run's record remembers
    entry `seq` sealing it. Findings noted first win: the record checks note theirs before `links`."""

    def __init__(self, lines: list[bytes], sealed_prev: Callable[[dict], str | None]):
        self.lines, self.sealed_prev = lines, sealed_prev
        self.hashes = [sha256_bytes(raw) for raw in lines]
        self.entries: list[dict | None] = []
        self.findings: dict[int, Finding] = {}
        self.remembered: dict[int, str] = {}
        """entry number -> the run whose record says that entry sealed it, where the ledger lacks that seal"""

    def note(self, line: int, message: str, run: str | None = None) -> None:
        entry = self.entries[line - 1] if line <= len(self.entries) else None
        self.findings.setdefault(line, Finding(line, message, run or (entry and entry["run"])))

    def lost(self, seq: int, run: str) -> None:
        """Run `run`'s record says ledger entry `seq` sealed it, but the ledger has no such seal of it."""
        self.remembered.setdefault(seq, run)

    def check(self) -> None:
        self.parse()
        self.links()

    def parse(self) -> None:
        for number, raw in enumerate(self.lines, start=1):
            entry, why = parse_line(raw)
            self.entries.append(entry)
            if number == len(self.lines) and not raw.endswith(b"\n"):
                self.note(number, f"truncated (the last line stops after {len(raw)} bytes, with no end of line)")
            elif entry is None:
                self.note(number, f"edited (not a ledger entry: {why})")

    # --- the chain the links make --------------------------------------------------------------

    def links(self) -> None:
        """Rebuild the chain from the links and name every line where the file departs from it."""
        self._link_map()
        segments = self._segments()
        self._branches()
        self._boundaries(segments)
        self._reorders(segments)
        self._lost_at_the_end()

    def _seq(self, line: int) -> int:
        return self.entries[line - 1]["seq"]

    def _link_map(self) -> None:
        """`pred[line]`: the line it chains to (0: the genesis), None when it chains to no line of the ledger."""
        self.first_at: dict[str, int] = {}
        self.copies: dict[int, int] = {}
        for number, entry in enumerate(self.entries, start=1):
            digest = self.hashes[number - 1]
            if entry is not None and digest in self.first_at:
                self.copies[number] = self.first_at[digest]
            elif entry is not None:
                self.first_at[digest] = number
        self.pred: dict[int, int | None] = {}
        self.kids: dict[int, list[int]] = {}
        for number, entry in enumerate(self.entries, start=1):
            if entry is None:
                continue
            to = self._raw_pred(number)
            fits = to == 0 and entry["seq"] == 1 or bool(to) and to != number and self._seq(to) == entry["seq"] - 1
            self.pred[number] = to if fits else None
            if fits:
                self.kids.setdefault(to, []).append(number)

    def _raw_pred(self, line: int) -> int | None:
        """The line whose bytes hash to this line's `prev_sha256` (0 for the genesis hash), whatever its number."""
        prev = self.entries[line - 1]["prev_sha256"]
        to = 0 if prev == GENESIS else self.first_at.get(prev)
        return None if to == line else to

    def _segments(self) -> list[list[int]]:
        """The chain's unbroken stretches, each in chain order, the one from the genesis first: where two lines
        chain to the same line, the chain follows the one with the longer stretch after it."""
        depth: dict[int, int] = {}
        for number in sorted(self.pred, key=lambda n: -self._seq(n)):  # a line's successors have larger numbers
            depth[number] = 1 + max((depth[k] for k in self.kids.get(number, [])), default=0)
        self.visited: set[int] = set()
        self.chosen: dict[int, int] = {}

        def walk(line: int | None, frm: int | None) -> list[int]:
            stretch = []
            while line is not None:
                if frm is not None:
                    self.chosen[frm] = line
                stretch.append(line)
                self.visited.add(line)
                options = [k for k in self.kids.get(line, []) if k not in self.visited]
                frm, line = line, (min(options, key=lambda k: (-depth[k], k)) if options else None)
            return stretch

        segments = [walk(min(self.kids[0], key=lambda k: (-depth[k], k)), 0)] if self.kids.get(0) else []
        segments += [walk(n, None) for n in self.pred if self.pred[n] is None and n not in self.copies]
        return segments

    def _branches(self) -> None:
        """Lines the chain goes past: copies of another line, or links to a line the chain leaves by another one."""
        for number in sorted(set(self.pred) - self.visited):
            if number in self.copies:
                self.note(number, f"inserted (a copy of line {self.copies[number]})")
            else:
                to = self.pred[number]
                where = "the genesis" if to == 0 else f"line {to}"
                self.note(number, f"inserted (it chains to {where}, but the chain goes on from there at line {self.chosen.get(to)})")

    def _corrected_seq(self, line: int) -> int:
        """A line's entry number, or the one it must have had when it chains to a line but says another number."""
        to = self._raw_pred(line)
        if self.pred[line] is None and to is not None:
            return 1 if to == 0 else self._seq(to) + 1
        return self._seq(line)

    def _boundaries(self, segments: list[list[int]]) -> None:
        """Where a stretch begins with a line that chains to no line: a number edited, entries deleted, a link
        edited, or a line inserted; lines that are not entries stand in for as many missing entries."""
        ends = {self._corrected_seq(s[0]) + len(s) - 1: s[-1] for s in segments}
        """entry number -> the line a stretch ends with"""
        in_chain: dict[int, int] = {}
        """entry number -> the line holding it (the first stretch to claim a number keeps it: the genesis one)"""
        for segment in segments:
            for i, number in enumerate(segment):
                in_chain.setdefault(self._corrected_seq(segment[0]) + i, number)
        self._numbers = sorted(in_chain)
        self._broken = [n for n, e in enumerate(self.entries, start=1) if e is None]  # in line order
        for segment in segments:
            first = segment[0]
            if self.pred[first] is None:
                self._stretch_start(first, ends, in_chain)

    def _stretch_start(self, line: int, ends: dict[int, int], in_chain: dict[int, int]) -> None:
        entry, seq, to = self.entries[line - 1], self._seq(line), self._raw_pred(line)
        if to is not None:  # it chains to a line, but says another number
            where = "the genesis" if to == 0 else f"line {to} (entry {self._seq(to)})"
            self.note(line, f"edited (it says it is entry {seq}, but it chains to {where})")
            return
        if in_chain.get(seq, line) != line:
            self.note(line, f"inserted or edited (it says it is entry {seq}, which line {in_chain[seq]} is)")
            return
        if seq - 1 in ends or seq == 1:
            self._broken_link(ends.get(seq - 1), line, entry)
            return
        below = bisect.bisect_left(self._numbers, seq)  # (bisect: a ledger of hostile lines must not cost n squared)
        lower = self._numbers[below - 1] if below else 0
        missing, since = seq - 1 - lower, in_chain.get(lower, 0)
        low, high = sorted((since, line))
        if bisect.bisect_left(self._broken, high) - bisect.bisect_right(self._broken, low) >= missing:
            return  # lines that are no entries stand where the missing entries were: already named
        runs = sorted({self.remembered[s] for s in range(lower + 1, seq) if s in self.remembered})
        sealed = f"; it sealed run {runs[0]}" if len(runs) == 1 else f"; they sealed runs {', '.join(runs)}" if runs else ""
        self.note(line, f"line(s) deleted before it ({_entries(missing, lower + 1)} missing{sealed}; it is entry {seq})",
                  runs[0] if len(runs) == 1 else None)

    def _broken_link(self, before: int | None, line: int, entry: dict) -> None:
        """Line `line` has the next number after `before` but does not chain to it: which of the two was edited?"""
        sealed = self.sealed_prev(entry)
        if sealed is not None and sealed != entry["prev_sha256"]:
            self.note(line, f"edited (prev_sha256 is not the hash run {entry['run']} was sealed with)")
            return
        alone = not self.kids.get(line) and line < len(self.entries) and self.entries[line] is not None \
            and self.pred.get(line + 1) is None  # neither its predecessor nor its successor chains to it
        if before is None or alone:
            self.note(line, "edited (it chains to no line of the ledger)")
        else:
            self.note(before, f"edited (its sha256 is no longer the one line {line} chains to)")

    def _reorders(self, segments: list[list[int]]) -> None:
        """The fewest lines whose moving puts the chain in file order (those off a longest increasing run)."""
        order = [n for s in sorted(segments, key=lambda s: (self._corrected_seq(s[0]), s[0])) for n in s]
        keep = _longest_increasing(order)
        index = {n: i for i, n in enumerate(order)}
        for number in order:
            if number in keep:
                continue
            i = index[number]
            neighbours = [order[j] for j in (i - 1, i + 1) if 0 <= j < len(order)]
            swapped = next((n for n in neighbours if abs(n - number) == 1 and (n < number) != (index[n] < i)), None)
            if swapped is not None:
                low, high = sorted((number, swapped))
                self.note(low, f"reordered (swapped with line {high}: the chain goes from line {high} to line {low})")
            elif self.pred[number] == 0:
                self.note(number, "reordered (it is the first entry of the chain, so it belongs at line 1)")
            elif self.pred[number] is None:
                self.note(number, "reordered (it is out of the order of the entry numbers around it)")
            else:
                self.note(number, f"reordered (it chains to line {self.pred[number]}, so it belongs right after it)")

    def _lost_at_the_end(self) -> None:
        """Entries a record remembers beyond the ledger's last: its last lines were deleted."""
        last = max((e["seq"] for e in self.entries if e is not None), default=0)
        for seq in sorted(s for s in self.remembered if s > last):
            line = len(self.entries) + seq - last
            self.note(line, f"deleted (it sealed run {self.remembered[seq]}; the ledger now ends at line "
                            f"{len(self.entries)})", self.remembered[seq])


def _longest_increasing(values: list[int]) -> set[int]:
    """The values of one longest strictly increasing subsequence (patience sorting, O(n log n))."""
    tails, tail_at, back = [], [], [None] * len(values)
    for i, value in enumerate(values):
        k = bisect.bisect_left(tails, value)
        back[i] = tail_at[k - 1] if k else None
        if k == len(tails):
            tails.append(value)
            tail_at.append(i)
        else:
            tails[k], tail_at[k] = value, i
    kept, i = set(), tail_at[-1] if tail_at else None
    while i is not None:
        kept.add(values[i])
        i = back[i]
    return kept
