"""What an engine is: the typed spec it is registered with, and the calls the commands make on it.

An engine is one module plus one `EngineSpec` in the registry (`registry.py`). The spec is plain
data, importable without torch, so the config loader, the commands' early checks and the site
generators can all ask it questions; the module, which trains, is imported only when a run starts.

The module offers:

    prepare(cfg, source) -> Prepared     load the data, build the model; every config or data mistake is
                                         raised here (ConfigError), before any run folder exists. Prepared
                                         has `.model` (an nn.Module) and `.data_record` (the record's data).
    train(prepared, run, resume) -> dict train (continuing from `resume`, a checkpoint's state, when
                                         given) and return the final metrics. `run` is None in every
                                         process but rank 0 under torchrun: those train along and write
                                         nothing. Raise TrainingFailed when training cannot go on.
    replay(run_dir, names)               only if the spec says `replay=True`: play the run again from its
                                         folder and compare (see policy_gradient.replay).
    load_trained(cfg, record, files, state, device) -> Trained
                                         only if `generates=True`: the trained model rebuilt from a weights
                                         file's state dict, the run's record and its model files (`files`:
                                         name -> a local path already checked against the record), on `device`
    sample(trained, request) -> list[str]
                                         texts generated as `request` (a SampleRequest) asks (`trainer sample`)
    score_choices(trained, path, limit) -> dict
                                         only if `scores_choices=True`: the multiple-choice evaluation of a
                                         HellaSwag-format file (`trainer eval --file`)

`load()` imports the module and checks that it offers these calls with these parameters, so an engine
whose module is broken is refused before any run folder exists, not halfway through a run.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field, fields
from types import ModuleType

from ..errors import UsageError

CALLS = {"prepare": ("cfg", "source"), "train": ("prepared", "run", "resume")}
"""what every engine module offers: each function and the arguments it is called with, in order"""
REPLAY = ("run_dir", "names")
"""the arguments of `replay`, offered by the module of an engine whose spec says `replay=True`"""
GENERATES = {"load_trained": ("cfg", "record", "files", "state", "device"), "sample": ("trained", "request")}
"""the calls of an engine whose spec says `generates=True` (`trainer sample`)"""
SCORES_CHOICES = {"load_trained": GENERATES["load_trained"], "score_choices": ("trained", "path", "limit")}
"""the calls of an engine whose spec says `scores_choices=True` (`trainer eval --file`)"""


class EngineError(UsageError):
    """An engine that cannot be used as it is declared (it does not import, its spec, schema or module is not what
    the contract asks, its name clashes with another's): the message names the package and its version."""


class TrainingFailed(Exception):
    """Training cannot go on (e.g. the loss is no longer finite); the message says where and why."""

    def __init__(self, message: str, step: int | None = None):
        super().__init__(message)
        self.step = step


@dataclass(frozen=True)
class KeyMetric:
    """The one number that says how good a run is, and when two runs' numbers may be compared."""

    name: str
    """a key of the run's final metrics, e.g. val_loss"""
    goal: str
    """min or max: which way is better"""
    label: str
    """how pages name it, e.g. 'val loss'"""
    unit: str
    """what one unit of it is, e.g. 'nats per token'"""
    comparable_by: tuple[str, ...] = ()
    """dotted paths into the run record that must be equal for two runs' values to be comparable (a loss per
    token of two different tokenizers is not): e.g. ('data.tokenizer.sha256',)"""
    across: str | None = None
    """a final metric that stays comparable when `comparable_by` differs (bits per character), or None"""

    def as_record(self) -> dict:
        """The form a run record keeps (and pages read back)."""
        return {"name": self.name, "goal": self.goal, "label": self.label, "unit": self.unit,
                "comparable_by": list(self.comparable_by), "across": self.across}


@dataclass(frozen=True)
class SampleRequest:
    """What `trainer sample` asks of an engine that generates; a None takes the run's own `sample` setting."""

    prompt: str | None = None
    count: int | None = None
    max_length: int | None = None
    temperature: float | None = None
    top_k: int | None = None
    seed: int | None = None

    def over(self, defaults) -> "SampleRequest":
        """Every setting filled in: this request's, else the run config's `sample` section's (`defaults`)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return SampleRequest(**{name: getattr(defaults, name, None) if value is None else value for name, value in values.items()})


@dataclass(frozen=True)
class EngineSpec:
    """Everything the rest of Trainbook needs to know about one engine, in one place."""

    model_type: str
    """the `model.type` that selects it in an experiment file"""
    schema: type | str
    """the experiment's dataclass schema, or where to import it from ("package.module:Class"): the built-in
    engines keep theirs in trainer/schemas/ (torch-free); a new engine may declare it in its own module"""
    kind: str
    """the experiment kind the site groups by, e.g. language-model, rl"""
    key_metric: KeyMetric
    module: str
    """import path of the module that trains (prepare, train, and replay if any)"""
    description: str = ""
    """one line for the guide"""
    resumable: bool = True
    """its checkpoints continue the exact trajectory (`trainer resume`)"""
    multi_process: bool = False
    """it trains data-parallel under torchrun; when False, a torchrun launch is refused before anything is written"""
    one_process_settings: tuple[tuple[str, object], ...] = ()
    """settings (dotted key, value) under which a multi-process engine still trains in one process, refused under
    torchrun before torch like a single-process engine, naming that key"""
    replay: bool = False
    """its module has `replay(run_dir, names)` (`trainer replay`)"""
    generates: bool = False
    """its module has `load_trained` and `sample` (`trainer sample`): a trained run's model generates text"""
    scores_choices: bool = False
    """its module has `score_choices` (`trainer eval --file`): multiple-choice evaluation in HellaSwag's format"""
    sections: tuple[str, ...] = ()
    """run-page sections of its own, in page order, shown after the common ones: names in generators/sections/SECTIONS
    (e.g. "gradcheck"), or a plugin's own builders by import path ("package.module:function", torch-free, called with
    the run's trainer.plugin.RunFolder and returning Markdown or None)"""
    artifacts: tuple[str, ...] = field(default=())
    """files it writes into a run folder besides the common ones (trainer/tracking/layout.py); a `*` stands for a name"""
    tracked: bool = False
    """its runs are made by a training script of one's own inside `trainer.track()`, not by a module: `trainer run`
    refuses its experiments, and `reproduce` re-runs the command the record keeps"""

    def load(self) -> ModuleType:
        """The engine's module (this imports torch), checked to offer the calls the commands make on it.

        Raises ImportError (or whatever importing it raises) when it cannot be imported, and TypeError naming
        the call when a function is missing or cannot take the arguments it is called with."""
        module = importlib.import_module(self.module)
        wanted = {**CALLS, **({"replay": REPLAY} if self.replay else {}), **(GENERATES if self.generates else {}),
                  **(SCORES_CHOICES if self.scores_choices else {})}
        for name, arguments in wanted.items():
            problem = _unfit(getattr(module, name, None), arguments)
            if problem:
                raise TypeError(f"{self.module}.{name} {problem}; an engine's {name} is called as {name}({', '.join(arguments)})")
        return module

    def experiment_schema(self) -> type:
        """The schema class (imported now when the spec names it by path)."""
        if isinstance(self.schema, type):
            return self.schema
        module, _, name = self.schema.partition(":")
        return getattr(importlib.import_module(module), name)


def _unfit(function, arguments: tuple[str, ...]) -> str | None:
    """Why `function` cannot be called with `arguments` positionally, or None."""
    if function is None:
        return "is missing"
    if not callable(function):
        return f"is a {type(function).__name__}, not a function"
    try:
        inspect.signature(function).bind(*arguments)
    except TypeError:
        return f"takes ({', '.join(inspect.signature(function).parameters)})"
    except ValueError:  # a builtin without a signature: let the call decide
        return None
    return None
