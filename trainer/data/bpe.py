"""Learning a byte-level BPE vocabulary, fast enough to do on every fresh machine.

The text is first cut into pieces with the tokenizer's regular expression (as tiktoken will cut
it when encoding), and identical pieces are counted, so the merges run over ~10^4 distinct
words instead of ~10^6 bytes. Pair counts are then kept up to date incrementally: a merge only
revisits the words that contain the merged pair, and a heap with lazy deletion finds the next
most frequent pair. Ties go to the smallest pair of ids, so the result depends only on the text.

The ranks come out in tiktoken's format (token bytes -> rank, bytes 0-255 first), ready for
`tiktoken.Encoding`, which then encodes any text with them.
"""
from __future__ import annotations

import base64
import heapq
from collections import Counter, defaultdict

import regex

Pair = tuple[int, int]


def count_words(text: str, pattern: str) -> Counter[bytes]:
    return Counter(piece.encode("utf-8") for piece in regex.findall(pattern, text))


def _pairs(word: list[int]) -> Counter[Pair]:
    return Counter(zip(word, word[1:]))


def _merge(word: list[int], pair: Pair, new_id: int) -> list[int]:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def learn(word_counts: Counter[bytes], merges: int) -> dict[bytes, int]:
    """Mergeable ranks with up to `merges` learned tokens after the 256 single bytes.

    Fewer are learned only when no pair occurs twice any more (the text is exhausted).
    """
    vocab = [bytes([b]) for b in range(256)]
    ids = {token: i for i, token in enumerate(vocab)}
    words = [list(word) for word in word_counts]
    counts = list(word_counts.values())
    pair_count: dict[Pair, int] = defaultdict(int)
    where: dict[Pair, set[int]] = defaultdict(set)
    for w, word in enumerate(words):
        for pair, n in _pairs(word).items():
            pair_count[pair] += n * counts[w]
            where[pair].add(w)
    heap = [(-n, pair) for pair, n in pair_count.items()]
    heapq.heapify(heap)

    learned = 0
    while learned < merges and heap:
        negative, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -negative:
            continue  # a stale entry: this pair's count changed after it was pushed
        if -negative < 2:
            break
        token = vocab[pair[0]] + vocab[pair[1]]
        if token in ids:  # the same bytes were already made from another pair: reuse, no new rank
            new_id = ids[token]
        else:
            new_id = len(vocab)
            vocab.append(token)
            ids[token] = new_id
            learned += 1
        changed: set[Pair] = set()
        for w in list(where[pair]):
            old, weight = words[w], counts[w]
            new = _merge(old, pair, new_id)
            before, after = _pairs(old), _pairs(new)
            for p, n in before.items():
                pair_count[p] -= n * weight
                changed.add(p)
                if p not in after:
                    where[p].discard(w)
            for p, n in after.items():
                pair_count[p] += n * weight
                where[p].add(w)
                changed.add(p)
            words[w] = new
        for p in changed:
            if pair_count[p] > 0:
                heapq.heappush(heap, (-pair_count[p], p))
            else:
                pair_count.pop(p, None)
                where.pop(p, None)
    return ids


def dumps(ranks: dict[bytes, int]) -> bytes:
    """The `.tiktoken` format: one `base64(token) rank` line per token, by rank."""
    return b"".join(base64.b64encode(token) + b" " + str(rank).encode() + b"\n"
                    for token, rank in sorted(ranks.items(), key=lambda item: item[1]))


def loads(data: bytes, where: str) -> dict[bytes, int]:
    ranks = {}
    for number, line in enumerate(data.splitlines(), start=1):
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except ValueError:
            raise ValueError(f"{where}: line {number} is not `base64-token rank`") from None
    return ranks
