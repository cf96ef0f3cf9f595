"""Engine for GPT language models on text (`model.type: gpt`).

Prepares the corpus, tokenizer, cached token streams, model and the multiple-choice set; the
shared loop in `lm.py` trains, watched by introspection on rank 0; then this engine samples text,
scores the multiple-choice set (with the trained and the untrained model) and draws the token
embeddings, on rank 0 only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from ..figures import training as figures
from ..runtime import devices, distributed, seeding
from ..errors import ConfigError, UsageError
from ..data import streams, text, tokenizers
from ..evals import heldout_choices, multiple_choice, sampling
from ..introspect.recorder import Introspector
from ..models.gpt import GPT
from ..schemas.gpt import GPTExperiment
from ..tracking import layout
from ..tracking.files import sha256_bytes, sha256_file
from ..tracking.run import Run
from ..loop import lm
from .contract import SampleRequest

EMBEDDING_TOKENS = 400  # tokens drawn in the embedding figure (most frequent first); the first 40 are labelled


@dataclass
class Prepared:
    cfg: GPTExperiment
    corpus: text.TextCorpus
    tokenizer: tokenizers.Tokenizer
    streams: dict[str, np.ndarray]
    model: GPT
    choices: list[multiple_choice.Example]
    choices_source: dict
    data_record: dict


def _choices(cfg: GPTExperiment, corpus: text.TextCorpus, source: str) -> tuple[list, dict]:
    ev = cfg.eval
    if ev.examples == 0:
        return [], {}
    if ev.file:
        path = Path(ev.file)
        examples = multiple_choice.read_jsonl(path, source, ev.examples)
        return examples, {"file": str(path), "sha256": sha256_file(path), "built": False}
    examples = heldout_choices.build(corpus.splits["val"], ev.examples, ev.seed, ev.context_chars, ev.task)
    return examples, {"file": layout.CHOICE_SET, "built": True, "task": ev.task,
                      "measures": heldout_choices.TASKS[ev.task].measures,
                      "how": f"built from the validation split ({len(examples)} examples, task {ev.task}): the four endings "
                             "of each are real endings of one length in characters, drawn before the true one was chosen "
                             "among them, so a model that ignores the context scores 25% in expectation"}


def initial_model(cfg: GPTExperiment, vocab_size: int) -> GPT:
    """The model as training starts; its weights depend on `cfg.seed` alone, so the untrained baseline
    of the evaluation is this very run's starting point."""
    torch.manual_seed(cfg.seed)
    return GPT(cfg.model, vocab_size)


def prepare(cfg: GPTExperiment, source: str) -> Prepared:
    world = distributed.current()
    lm.accumulation_steps(cfg, cfg.model.block_size, world.size, source)
    with world.main_first():  # rank 0 fills the caches (downloads, learned BPE, token streams) first
        corpus = text.load(cfg.data, source)
        tokenizer = tokenizers.build(cfg.data, corpus, source)
        ids = {split: streams.load(t, tokenizer) for split, t in corpus.splits.items()}
    for split, stream in ids.items():
        if len(stream) <= cfg.model.block_size + 1:
            raise ConfigError(source, "model.block_size", f"the {split} split of {corpus.record['source']} has only {len(stream)} "
                              f"tokens; it needs more than block_size + 1 ({cfg.model.block_size + 1}): use more text or a smaller block_size")
    try:
        prompt = tokenizer.encode(cfg.sample.prompt)
    except ValueError as e:
        raise ConfigError(source, "sample.prompt", f"cannot be encoded: {e}") from None
    if len(prompt) == 0 and cfg.sample.count:
        raise ConfigError(source, "sample.prompt", "must encode to at least one token")
    choices, choices_source = _choices(cfg, corpus, source)
    record = {
        **corpus.record,
        "tokenizer": tokenizer.record(),
        "splits": {s: {**corpus.record["splits"][s], "tokens": int(len(ids[s]))} for s in ids},
    }
    return Prepared(cfg, corpus, tokenizer, ids, initial_model(cfg, tokenizer.vocab_size), choices, choices_source, record)


def _windows(stream: np.ndarray, starts: np.ndarray, block: int) -> lm.Batch:
    """Inputs and next-token targets for the windows beginning at `starts`."""
    chunk = torch.from_numpy(stream[starts[:, None] + np.arange(block + 1)].astype(np.int64))
    return chunk[:, :-1], chunk[:, 1:]


def _eval_starts(n_tokens: int, block: int, windows: int) -> np.ndarray:
    """Starts of non-overlapping windows over the whole split, or `windows` of them spread evenly."""
    starts = np.arange(0, n_tokens - block, block)
    if windows and windows < len(starts):
        starts = starts[np.linspace(0, len(starts) - 1, windows).round().astype(np.int64)]
    return starts


def _task(p: Prepared, run: Run | None) -> lm.LMTask:
    cfg, block = p.cfg, p.cfg.model.block_size
    train = p.streams["train"]

    def train_batch(ix: torch.Tensor) -> lm.Batch:
        return _windows(train, ix.numpy(), block)

    def split_batches(split: str):
        stream, size = p.streams[split], cfg.train.batch_size
        starts = _eval_starts(len(stream), block, cfg.train.eval_batches * size)
        return (_windows(stream, starts[i:i + size], block) for i in range(0, len(starts), size))

    task = lm.LMTask(p.model, len(train) - block, train_batch, split_batches, tokens_per_example=block,
                     flops_per_token=p.model.flops_per_token(), final_splits=("train", "val"))
    if cfg.introspect.interval and run is not None:  # observers write into the run: rank 0 only
        task.observers.append(Introspector(p.model, cfg.introspect, run, math.log(p.tokenizer.vocab_size), cfg.name))
    return task


def train(p: Prepared, run: Run | None, resume: dict | None = None) -> dict:
    metrics = lm.train(p.cfg, _task(p, run), run, resume)
    if run is None:  # not rank 0: nothing to write
        return metrics
    for name, data in p.tokenizer.files().items():
        run.write_text(name, data.decode("utf-8"))
    metrics["uniform_loss"] = math.log(p.tokenizer.vocab_size)
    val = p.corpus.record["splits"]["val"]
    metrics["val_bpc"] = metrics["val_loss"] / math.log(2) * len(p.streams["val"]) / val["chars"]
    _samples(p, run)
    metrics.update(_multiple_choice(p, run))
    _embeddings(p, run)
    return metrics


def _autocast(p: Prepared):
    device = distributed.current().device
    return lambda: devices.autocast(p.cfg.train.precision, device)


def _texts(model: GPT, tokenizer: tokenizers.Tokenizer, block_size: int, s) -> list[str]:
    """`s.count` continuations of `s.prompt`, each decoded with its prompt (s: the `sample` settings, or a SampleRequest)."""
    prompt = [int(t) for t in tokenizer.encode(s.prompt)]
    rows = sampling.generate(model, prompt, s.count, s.max_length, block_size=block_size, vocab_size=tokenizer.vocab_size,
                             generator=seeding.generator(s.seed), temperature=s.temperature, top_k=s.top_k)
    return [tokenizer.decode(prompt + row) for row in rows]


def _samples(p: Prepared, run: Run) -> None:
    s = p.cfg.sample
    if not s.count:
        return
    texts = _texts(p.model, p.tokenizer, p.cfg.model.block_size, s)
    how = f"temperature {s.temperature:g}, " + (f"top-k {s.top_k}, " if s.top_k else "") + f"{s.max_length} tokens, seed {s.seed}"
    parts = [f"prompt {s.prompt!r}; {how}\n"]
    parts += [f"\n--- sample {i} ---\n{text}\n" for i, text in enumerate(texts, start=1)]
    run.write_text(layout.SAMPLES, "".join(parts))


def _scored(model: GPT, tokenizer: tokenizers.Tokenizer, block_size: int, examples: list, autocast) -> tuple[dict, list]:
    """The multiple-choice summary of `examples` and the scored examples, as training and `trainer eval` compute them."""
    encode = lambda s: [int(t) for t in tokenizer.encode(s)]  # noqa: E731
    scored, skipped = multiple_choice.score(model, encode, tokenizer.decode, examples, block_size=block_size,
                                            autocast=autocast)
    return multiple_choice.summary(scored, skipped), scored


def _multiple_choice(p: Prepared, run: Run) -> dict:
    """Score the set with the trained model and with the untrained one (this run's initial weights, rebuilt
    without touching the global RNG), which shows what the set gives a model that has learnt nothing."""
    if not p.choices:
        return {}
    if p.choices_source.get("built"):
        run.write_text(layout.CHOICE_SET, multiple_choice.dumps_jsonl(p.choices))
        p.choices_source["sha256"] = sha256_bytes(run.file(layout.CHOICE_SET).read_bytes())
    result, scored = _scored(p.model, p.tokenizer, p.cfg.model.block_size, p.choices, _autocast(p))
    device = distributed.current().device
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):  # manual_seed seeds CUDA too
        untrained = initial_model(p.cfg, p.tokenizer.vocab_size)
    _, baseline = _scored(untrained.to(device), p.tokenizer, p.cfg.model.block_size, p.choices, _autocast(p))
    run.write_json(layout.CHOICES, {**result, "untrained": multiple_choice.accuracies(baseline),
                                    "source": p.choices_source, "shown": multiple_choice.shown(scored)})
    return {"mc_acc": result["acc"], "mc_acc_norm": result["acc_norm"], "mc_acc_char": result["acc_char"],
            "mc_examples": result["examples"]}


# --- a trained run's model: `trainer sample` and `trainer eval` ------------------------------------------

@dataclass
class Trained:
    cfg: GPTExperiment
    model: GPT
    tokenizer: tokenizers.Tokenizer
    device: torch.device


def load_trained(cfg: GPTExperiment, record: dict, files: Mapping[str, Path], state: dict, device: str) -> Trained:
    """The run's GPT with its weights on `device`, and the tokenizer it was trained with (checked against the record)."""
    source = str(files.get(layout.CONFIG, layout.CONFIG))
    tokenizer = tokenizers.from_record(cfg.data, (record.get("data") or {}).get("tokenizer") or {}, files, source)
    try:
        where = devices.resolve(device)
    except devices.DeviceError as e:
        raise UsageError("--device", "", str(e)) from None
    model = GPT(cfg.model, tokenizer.vocab_size)
    model.load_state_dict(state)
    return Trained(cfg, model.to(where), tokenizer, where)


def sample(trained: Trained, request: SampleRequest) -> list[str]:
    s = request.over(trained.cfg.sample)
    try:
        return _texts(trained.model, trained.tokenizer, trained.cfg.model.block_size, s)
    except ValueError as e:  # a character the vocabulary lacks
        raise UsageError("--prompt", "", f"{s.prompt!r} cannot be encoded by this run's {trained.tokenizer.kind} tokenizer: {e}") from None


def score_choices(trained: Trained, path: Path, limit: int = 0) -> dict:
    """The multiple-choice summary of a HellaSwag-format file (its first `limit` examples when > 0)."""
    examples = multiple_choice.read_jsonl(path, str(path), limit)
    autocast = lambda: devices.autocast(trained.cfg.train.precision, trained.device)  # noqa: E731
    result, _ = _scored(trained.model, trained.tokenizer, trained.cfg.model.block_size, examples, autocast)
    return result


def _embeddings(p: Prepared, run: Run) -> None:
    counts = np.bincount(np.asarray(p.streams["train"]), minlength=p.tokenizer.vocab_size)
    order = [int(i) for i in np.argsort(-counts, kind="stable")[:EMBEDDING_TOKENS] if counts[i] > 0]
    weights = p.model.wte.weight.detach().float().cpu().numpy()[order]
    labels = [p.tokenizer.label(i) for i in order]
    run.write_json(layout.EMBEDDINGS, {
        "labels": labels,
        "token_ids": order,
        "counts": [int(counts[i]) for i in order],
        "vectors": [[round(float(v), 5) for v in row] for row in weights],
        "note": f"token embeddings (tied with the output layer) of the {len(order)} most frequent training tokens, most frequent first",
    })
    figures.token_embedding_figure(weights, labels, run.file("embeddings.png"), f"{p.cfg.name}: token embeddings")
    run.add_figure("embeddings.png", "Token embeddings", f"The {len(order)} most frequent tokens' embeddings projected to two "
                   "dimensions, the 40 most frequent labelled (⏎ newline, ␣ space). Tokens the model uses alike sit close "
                   "together, e.g. upper- and lower-case vowels, or punctuation that ends a sentence.")
