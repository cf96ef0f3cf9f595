"""The sweep file: a search space over one base experiment's settings, checked before any trial runs.

    name: names-mlp-lr
    base: ../names-mlp.yaml           # the experiment every trial runs, relative to this file
    fixed: {train.steps: 300}         # settings every trial shares
    method: random                    # grid, random or tpe
    seed: 7
    budget: {trials: 12, minutes: 30}
    workers: 2
    pruner: {type: median, metric: val_loss, warmup_steps: 100}
    parameters:
      optim.lr: {low: 0.01, high: 1.0, log: true}
      model.n_hidden: {choices: [64, 128, 200]}

Every parameter key is a setting of the base experiment's schema; every choice and both ends of every range
are built into a full config through the schema, so a value outside a field's Range is refused here, with
the sweep file and the parameter named, before a folder or a process exists. Torch-free.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml

from ..config import build, did_you_mean, read_yaml
from ..engines import registry
from ..errors import ConfigError
from ..engines.contract import EngineSpec
from ..schemas.common import ExperimentHeader, check_name

METHODS = ("grid", "random", "tpe")
PRUNERS = ("none", "median", "successive_halving")
FIXED_KEYS = {f.name for f in dataclasses.fields(ExperimentHeader)} | {"model.type"}
"""what names or describes the experiment rather than trains it: a trial cannot change these"""
INTERMEDIATE = {"language-model": ("val_loss",), "rl": ("eval_return",)}
"""per experiment kind: the metrics its loop logs as rows during training (metrics.jsonl), which a pruner can watch"""
GOALS = {"val_loss": "min", "eval_return": "max"}
MAX_GRID = 10_000


@dataclass(frozen=True)
class Parameter:
    """One searched setting: a list of choices, or a numeric range (int or float, linear or log)."""

    key: str
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    integer: bool = False

    def grid(self) -> list:
        """The values a grid search takes: the choices, or every step of an integer range."""
        if self.choices is not None:
            return list(self.choices)
        step = int(self.step or 1)
        return list(range(int(self.low), int(self.high) + 1, step))

    def describe(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(repr, self.choices))
        kind = "integer" if self.integer else "number"
        return f"{kind} in [{self.low:g}, {self.high:g}]" + (" (log)" if self.log else "") + (f" step {self.step:g}" if self.step else "")

    def as_file(self) -> dict:
        if self.choices is not None:
            return {"choices": list(self.choices)}
        return {"low": self.low, "high": self.high, "log": self.log, **({"step": self.step} if self.step else {})}

    def as_record(self) -> dict:
        if self.choices is not None:
            return {"choices": list(self.choices)}
        return {"low": self.low, "high": self.high, "log": self.log, "step": self.step,
                "type": "int" if self.integer else "float"}


@dataclass(frozen=True)
class Pruner:
    type: str = "none"
    metric: str = "val_loss"
    warmup_steps: int = 0
    startup_trials: int = 2
    reduction_factor: int = 3
    min_resource: int = 1


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file."""

    name: str
    source: str
    base: Path
    spec: EngineSpec
    parameters: tuple[Parameter, ...]
    method: str
    seed: int
    metric: str
    goal: str
    trials: int | None
    minutes: float | None
    workers: int
    pruner: Pruner
    fixed: dict = field(default_factory=dict)
    description: str = ""

    @property
    def base_experiment(self) -> str:
        return self.base_data["name"]

    @property
    def base_data(self) -> dict:
        return read_yaml(self.base)

    def planned_trials(self) -> int | None:
        """The trial budget; a grid runs each point once, so it is capped at the grid's size."""
        if self.method != "grid":
            return self.trials
        size = math.prod(len(p.grid()) for p in self.parameters)
        return size if self.trials is None else min(self.trials, size)

    def overrides(self, params: dict) -> list[str]:
        """The `key=value` overrides of one trial: the fixed settings, then its sampled parameters."""
        return [f"{k}={_yaml_value(v)}" for k, v in {**self.fixed, **params}.items()]

    def as_file(self) -> dict:
        """The resolved sweep file (every default filled in, the base an absolute path): its folder's config.yaml,
        which `load` reads back to the same sweep."""
        budget = {k: v for k, v in (("trials", self.trials), ("minutes", self.minutes)) if v is not None}
        return {
            "name": self.name, "description": self.description, "base": str(self.base), "fixed": dict(self.fixed),
            "method": self.method, "seed": self.seed, "objective": {"metric": self.metric, "goal": self.goal},
            "budget": budget, "workers": self.workers, "pruner": dataclasses.asdict(self.pruner),
            "parameters": {p.key: p.as_file() for p in self.parameters},
        }

    def base_values(self) -> dict:
        """Each parameter's value in the base experiment (with the fixed settings): what a trial changes it from."""
        tree = copy.deepcopy(self.base_data)
        for key, value in self.fixed.items():
            _set(tree, key, value)
        cfg = build(self.spec.experiment_schema(), tree, str(self.base))
        return {p.key: functools.reduce(getattr, p.key.split("."), cfg) for p in self.parameters}

    def as_record(self) -> dict:
        """What the sweep's record says of it before any trial: base, method, seed, objective, space."""
        return {"base": str(self.base), "base_experiment": self.base_experiment, "model_type": self.spec.model_type,
                "base_values": self.base_values(),
                "method": self.method, "seed": self.seed, "objective": {"metric": self.metric, "goal": self.goal},
                "budget": {"trials": self.trials, "minutes": self.minutes}, "planned_trials": self.planned_trials(),
                "pruner": dataclasses.asdict(self.pruner), "fixed": dict(self.fixed),
                "parameters": {p.key: p.as_record() for p in self.parameters}}


def dump(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _yaml_value(value: Any) -> str:
    """A value as an override's right-hand side reads back (config.parse_override parses YAML)."""
    text = json.dumps(value)  # JSON is YAML: strings quoted, null, true/false
    if isinstance(value, float) and "e" in text and "." not in text.partition("e")[0]:
        mantissa, _, exponent = text.partition("e")  # PyYAML (YAML 1.1) reads 1e-05 as text, 1.0e-05 as a number
        text = f"{mantissa}.0e{exponent}"
    return text  # JSON is YAML: strings quoted, null, true/false


# --- reading the file -----------------------------------------------------------------------

def load(path: str | Path, *, workers: int | None = None) -> Sweep:
    """The sweep file at `path`, checked against its base experiment's schema; ConfigError on the first mistake."""
    path = Path(path)
    source = str(path)
    data = read_yaml(path)
    known = ("name", "description", "base", "fixed", "method", "seed", "objective", "budget", "workers", "pruner", "parameters")
    for key in data:
        if key not in known:
            raise ConfigError(source, str(key), f"unknown key{did_you_mean(str(key), list(known))}; known keys here: {', '.join(known)}")
    name = _typed(data, "name", str, source, required=True)
    problem = check_name(name)
    if problem:
        raise ConfigError(source, "name", problem[1])
    base = _base(data, path)
    base_data = read_yaml(base)
    spec = registry.spec_of(base_data, str(base))
    fixed = _fixed(data.get("fixed") or {}, base_data, spec, source)
    method = _choice(data, "method", METHODS, "random", source)
    parameters = _parameters(data.get("parameters"), {**base_data}, fixed, spec, source, method)
    metric, goal = _objective(data.get("objective") or {}, spec, source)
    trials, minutes = _budget(data.get("budget"), method, source)
    return Sweep(
        name=name, source=source, base=base, spec=spec, parameters=parameters, method=method,
        seed=_typed(data, "seed", int, source, default=0), metric=metric, goal=goal, trials=trials, minutes=minutes,
        workers=workers if workers is not None else _count(data, "workers", source, 1),
        pruner=_pruner(data.get("pruner") or {}, spec, goal, source), fixed=fixed,
        description=_typed(data, "description", str, source, default=""),
    )


def _typed(data: dict, key: str, kind: type, source: str, *, default: Any = None, required: bool = False, where: str = "") -> Any:
    if key not in data:
        if required:
            raise ConfigError(source, where + key, f"missing required key ({kind.__name__})")
        return default
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(source, where + key, f"expected {kind.__name__}, got {value!r}")
    return value


def _count(data: dict, key: str, source: str, default: int, where: str = "") -> int:
    value = _typed(data, key, int, source, default=default, where=where)
    if value < 1:
        raise ConfigError(source, where + key, f"must be >= 1, got {value}")
    return value


def _choice(data: dict, key: str, options: tuple, default: str, source: str, where: str = "") -> str:
    value = data.get(key, default)
    if value not in options:
        raise ConfigError(source, where + key, f"expected one of {', '.join(options)}, got {value!r}{did_you_mean(str(value), list(options))}")
    return value


def _base(data: dict, path: Path) -> Path:
    given = _typed(data, "base", str, str(path), required=True)
    base = (path.parent / given).resolve() if not Path(given).is_absolute() else Path(given)
    if not base.is_file():
        raise ConfigError(str(path), "base", f"no experiment file at {base} (a path relative to the sweep file)")
    return base


def leaf_type(schema: type, key: str) -> Any:
    """The annotated type of the setting `key` (dotted) in a schema, or a message saying why it is not one."""
    cls, parts = schema, key.split(".")
    for depth, part in enumerate(parts):
        hints = typing.get_type_hints(cls, include_extras=True)
        names = [f.name for f in dataclasses.fields(cls)]
        if part not in names:
            where = ".".join(parts[:depth]) or "the experiment"
            return f"unknown setting{did_you_mean(part, names)}; {where} has: {', '.join(names)}"
        tp = hints[part]
        base = typing.get_args(tp)[0] if typing.get_origin(tp) is Annotated else tp
        if depth == len(parts) - 1:
            if dataclasses.is_dataclass(base):
                return f"a section, not a setting; name one of its keys ({', '.join(f.name for f in dataclasses.fields(base))})"
            return tp
        if not dataclasses.is_dataclass(base):
            return f"{'.'.join(parts[:depth + 1])} is a setting, not a section"
        cls = base
    return "empty key"  # pragma: no cover - split never yields nothing


def _set(tree: dict, key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    for part in parents:
        child = tree.get(part)
        if not isinstance(child, dict):
            child = tree[part] = {}
        tree = child
    tree[leaf] = value


def _checked(base_data: dict, spec: EngineSpec, values: dict, source: str, where: str) -> None:
    """Build the base experiment with `values` set through its schema; a ConfigError names the sweep file and `where`."""
    tree = copy.deepcopy(base_data)
    for key, value in values.items():
        _set(tree, key, value)
    try:
        build(spec.experiment_schema(), tree, source)
    except ConfigError as e:
        # the parameter's own key is in `where` already; another key is a consequence worth naming (a cross-field rule)
        raise ConfigError(source, where, f"{e.key}: {e.message}" if e.key and e.key not in where else e.message) from None


def _settable(key: Any, spec: EngineSpec, source: str, where: str) -> Any:
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise ConfigError(source, where, f"expected a dotted setting such as optim.lr, got {key!r}")
    if key in FIXED_KEYS:
        raise ConfigError(source, where, f"{key} names the experiment, so a trial cannot change it (a sweep varies how "
                          f"the {spec.model_type!r} engine trains, not which experiment it is)")
    tp = leaf_type(spec.experiment_schema(), key)
    if isinstance(tp, str):
        raise ConfigError(source, where, f"the {spec.model_type!r} engine has no setting {key}: {tp}")
    return tp


def _fixed(fixed: Any, base_data: dict, spec: EngineSpec, source: str) -> dict:
    if not isinstance(fixed, dict):
        raise ConfigError(source, "fixed", f"expected a mapping of dotted settings to values, got {type(fixed).__name__}")
    for key in fixed:
        _settable(key, spec, source, f"fixed.{key}")
    _checked(base_data, spec, fixed, source, "fixed")
    return dict(fixed)


def _parameters(given: Any, base_data: dict, fixed: dict, spec: EngineSpec, source: str, method: str) -> tuple[Parameter, ...]:
    if not isinstance(given, dict) or not given:
        raise ConfigError(source, "parameters", "expected a mapping of dotted settings to {choices: [...]} or "
                          "{low: ..., high: ..., log: true|false}, with at least one parameter")
    found = []
    for key, body in given.items():
        where = f"parameters.{key}"
        tp = _settable(key, spec, source, where)
        if key in fixed:
            raise ConfigError(source, where, "is also in fixed; a setting is either fixed or searched")
        parameter = _parameter(key, body, tp, source, where)
        for shown, value in _ends(parameter, where):  # a Range is an interval: its ends decide for all between
            _checked(base_data, spec, {**fixed, key: value}, source, shown)
        if method == "grid" and parameter.choices is None and not parameter.integer:
            raise ConfigError(source, where, "a grid takes every value of each parameter: give choices (or an integer range)")
        found.append(parameter)
    if method == "grid" and math.prod(len(p.grid()) for p in found) > MAX_GRID:
        raise ConfigError(source, "parameters", f"the grid has more than {MAX_GRID} points; use method random or tpe")
    return tuple(found)


def _ends(parameter: Parameter, where: str) -> list[tuple[str, Any]]:
    """(key to name, value) for every value of a parameter that the schema must accept."""
    if parameter.choices is not None:
        return [(f"{where}.choices[{i}]", c) for i, c in enumerate(parameter.choices)]
    return [(f"{where}.low", parameter.low), (f"{where}.high", parameter.high)]


def _number_kind(tp: Any) -> str | None:
    base = typing.get_args(tp)[0] if typing.get_origin(tp) is Annotated else tp
    if typing.get_origin(base) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(base) if a is not type(None)]
        base = options[0] if len(options) == 1 else base
    return {int: "int", float: "float"}.get(base)


def _parameter(key: str, body: Any, tp: Any, source: str, where: str) -> Parameter:
    if not isinstance(body, dict):
        raise ConfigError(source, where, f"expected {{choices: [...]}} or {{low: ..., high: ...}}, got {body!r}")
    allowed = ("choices",) if "choices" in body else ("low", "high", "log", "step")
    for name in body:
        if name not in allowed:
            raise ConfigError(source, f"{where}.{name}", f"unknown key{did_you_mean(str(name), list(allowed))}; "
                              f"a parameter has choices, or low, high, log and step")
    if "choices" in body:
        choices = body["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(source, f"{where}.choices", f"expected a non-empty list of values, got {choices!r}")
        if any(isinstance(c, (dict, list)) for c in choices):
            raise ConfigError(source, f"{where}.choices", "each choice must be a single value (number, text, true/false, null)")
        if len({repr(c) for c in choices}) != len(choices):
            raise ConfigError(source, f"{where}.choices", f"lists a value twice: {choices!r}")
        return Parameter(key, choices=tuple(choices))
    kind = _number_kind(tp)
    if kind is None:
        raise ConfigError(source, where, f"{key} is not a number, so it has no range; give choices")
    for end in ("low", "high"):
        if end not in body:
            raise ConfigError(source, f"{where}.{end}", "missing: a range needs low and high")
        value = body[end]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "int" and not isinstance(value, int)):
            raise ConfigError(source, f"{where}.{end}", f"expected {'an integer' if kind == 'int' else 'a number'}, got {value!r}")
    low, high, log, step = body["low"], body["high"], body.get("log", False), body.get("step")
    if not isinstance(log, bool):
        raise ConfigError(source, f"{where}.log", f"expected true or false, got {log!r}")
    if not low < high:
        raise ConfigError(source, where, f"low must be below high, got low {low!r} and high {high!r}")
    if log and low <= 0:
        raise ConfigError(source, f"{where}.low", f"a log range needs low > 0, got {low!r}")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0 or (kind == "int" and not isinstance(step, int)):
            raise ConfigError(source, f"{where}.step", f"expected a positive {'integer' if kind == 'int' else 'number'}, got {step!r}")
        if log:
            raise ConfigError(source, f"{where}.step", "a log range takes no step (Optuna samples it continuously)")
    return Parameter(key, low=low, high=high, log=log, step=step, integer=kind == "int")


def _objective(given: Any, spec: EngineSpec, source: str) -> tuple[str, str]:
    if not isinstance(given, dict):
        raise ConfigError(source, "objective", f"expected {{metric: ..., goal: min|max}}, got {given!r}")
    for name in given:
        if name not in ("metric", "goal"):
            raise ConfigError(source, f"objective.{name}", "unknown key; known keys here: metric, goal")
    metric = _typed(given, "metric", str, source, default=spec.key_metric.name, where="objective.")
    default_goal = spec.key_metric.goal if metric == spec.key_metric.name else GOALS.get(metric)
    goal = _choice(given, "goal", ("min", "max"), default_goal, source, "objective.") if "goal" in given or default_goal \
        else None
    if goal is None:
        raise ConfigError(source, "objective.goal", f"missing: say whether {metric} is better small (min) or large (max)")
    return metric, goal


def _budget(given: Any, method: str, source: str) -> tuple[int | None, float | None]:
    given = {} if given is None else given
    if not isinstance(given, dict):
        raise ConfigError(source, "budget", f"expected {{trials: N, minutes: M}}, got {given!r}")
    for name in given:
        if name not in ("trials", "minutes"):
            raise ConfigError(source, f"budget.{name}", "unknown key; known keys here: trials, minutes")
    trials = _count(given, "trials", source, None, "budget.") if "trials" in given else None
    minutes = given.get("minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not minutes > 0):
        raise ConfigError(source, "budget.minutes", f"expected a number of minutes > 0, got {minutes!r}")
    if trials is None and minutes is None and method != "grid":
        raise ConfigError(source, "budget", "give trials, minutes or both: a random or tpe search has no natural end")
    return trials, float(minutes) if minutes is not None else None


def _pruner(given: Any, spec: EngineSpec, goal: str, source: str) -> Pruner:
    if not isinstance(given, dict):
        raise ConfigError(source, "pruner", f"expected a mapping such as {{type: median, metric: val_loss}}, got {given!r}")
    fields = [f.name for f in dataclasses.fields(Pruner)]
    for name in given:
        if name not in fields:
            raise ConfigError(source, f"pruner.{name}", f"unknown key{did_you_mean(str(name), fields)}; known keys here: {', '.join(fields)}")
    kind = _choice(given, "type", PRUNERS, "none", source, "pruner.")
    logged = INTERMEDIATE.get(spec.kind, ())
    metric = _typed(given, "metric", str, source, default=logged[0] if logged else "", where="pruner.")
    if kind != "none" and metric not in logged:
        raise ConfigError(source, "pruner.metric", f"the {spec.model_type!r} engine logs {', '.join(logged) or 'no metric'} "
                          f"during training, which a pruner can watch; got {metric!r}")
    if kind != "none" and GOALS.get(metric, goal) != goal:
        raise ConfigError(source, "pruner.metric", f"{metric} is better {'small' if GOALS[metric] == 'min' else 'large'}, "
                          f"but the objective is to {'minimise' if goal == 'min' else 'maximise'}; prune on a metric that "
                          "goes the objective's way")
    values = {"warmup_steps": 0, "startup_trials": 2, "reduction_factor": 3, "min_resource": 1}
    for name, default in values.items():
        values[name] = _typed(given, name, int, source, default=default, where="pruner.")
        if values[name] < (0 if name == "warmup_steps" else 1) or (name == "reduction_factor" and values[name] < 2):
            raise ConfigError(source, f"pruner.{name}", f"out of range, got {values[name]}")
    return Pruner(kind, metric, **values)
