"""The engine registry: `model.type` -> EngineSpec. Every command, the config loader and the site ask it.

Engines come through three doors, asked in this order:

- built in: BUILTIN here, and the kinds in KINDS, found by the import path of their spec and written only
  against the public API (`trainer.plugin`), as any other package's engine would be;
- another installed package: an entry point of the group `trainbook.engines` whose name is the model type
  and whose object is an EngineSpec (`toy-regressor = "toy_regressor.spec:SPEC"` in its pyproject.toml);
- for a quick try, an import path: `model.type: my_engine` finds the module `my_engine` and its `SPEC`, whose
  `model_type` must be that same path (so the resolved config names the engine the same way next time).
  Only experiment files take this door (`spec_of`): a record read for a page never imports a module it names.

A plugin that cannot be used (it does not import, its object is no spec, its schema is missing, its model
type clashes with a built-in or another package's) is refused with one EngineError naming the package and
its version, before anything is written; `origin()` says where each engine came from, for the record.
Torch-free: a spec module imports no engine.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ..config import did_you_mean
from ..errors import ConfigError
from ..schemas.gpt import GPTExperiment
from ..schemas.mlp import MLPExperiment
from ..schemas.policy import PolicyExperiment
from ..schemas.script import ScriptExperiment
from ..tracking import layout
from .contract import EngineError, EngineSpec, KeyMetric

VAL_LOSS_PER_TOKEN = KeyMetric("val_loss", "min", "val loss", "nats per token", ("data.tokenizer.sha256",), across="val_bpc")
VAL_LOSS_PER_CHARACTER = KeyMetric("val_loss", "min", "val loss", "nats per character")

BUILTIN: dict[str, EngineSpec] = {spec.model_type: spec for spec in (
    EngineSpec("mlp", MLPExperiment, "language-model", VAL_LOSS_PER_CHARACTER, "trainer.engines.names_mlp",
               description="makemore-style character MLP with BatchNorm (autograd, or a hand-written backward pass)",
               multi_process=True, one_process_settings=(("model.backprop", "manual"),), generates=True,
               sections=("gradcheck", "introspection"),
               artifacts=(layout.SAMPLES, layout.EMBEDDINGS, layout.GRADCHECK, layout.INTROSPECTION, layout.BEST)),
    EngineSpec("gpt", GPTExperiment, "language-model", VAL_LOSS_PER_TOKEN, "trainer.engines.gpt",
               description="decoder-only GPT (GPT-2 layout) on text, char, GPT-2 or learned BPE tokens",
               multi_process=True, generates=True, scores_choices=True, sections=("multiple_choice", "introspection"),
               artifacts=(layout.SAMPLES, layout.EMBEDDINGS, layout.CHOICES, layout.CHOICE_SET, layout.TOKENIZER,
                          layout.INTROSPECTION, layout.BEST)),
    EngineSpec("policy", PolicyExperiment, "rl", KeyMetric("eval_return", "max", "eval return", "reward per episode"),
               "trainer.engines.policy_gradient",
               description="REINFORCE with a value baseline in the gymnasium market simulator",
               replay=True, sections=("behaviour", "market_scenarios"),
               artifacts=(layout.SCENARIOS, layout.BEHAVIOUR, layout.TRACE)),
    EngineSpec("script", ScriptExperiment, "script", KeyMetric("val_loss", "min", "val loss", "as the script logs it"), "",
               description="a training script of your own, tracked by `trainer.track()` (the script trains, not an engine)",
               resumable=False, multi_process=True, tracked=True),
)}


KINDS: tuple[str, ...] = ("trainer.kinds.forecast:SPEC", "trainer.kinds.image:SPEC")
"""built-in kinds registered by the import path of their spec ("package.module:NAME")"""

GROUP = "trainbook.engines"
"""the entry-point group through which installed packages declare engines"""
SPEC = "SPEC"
"""the name of the spec in a module found by its import path"""
IMPORT_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True)
class Origin:
    """Where an engine came from: what the record says about the code that trained a run."""

    found_by: str
    """built-in, entry point or import path"""
    package: str | None = None
    """the installed distribution that provides it (None for a built-in, or a module no package installed)"""
    version: str | None = None
    entry_point: str | None = None
    """`name = module:object`, for an engine found through the entry-point group"""

    def label(self) -> str:
        """How messages name it: `plugin toy-regressor 0.1.0`."""
        if self.package:
            return f"plugin {self.package} {self.version}"
        return "built-in engine" if self.found_by == "built-in" else "engine module (not an installed package)"


BUILT_IN = Origin("built-in")


@functools.cache
def _built_in() -> dict[str, EngineSpec]:
    found = dict(BUILTIN)
    for path in KINDS:
        module, _, name = path.partition(":")
        spec = getattr(importlib.import_module(module), name)
        if not isinstance(spec, EngineSpec):
            raise TypeError(f"{path} is not an EngineSpec")
        found[spec.model_type] = spec
    return found


def _distribution(point: importlib.metadata.EntryPoint) -> Origin:
    dist = point.dist
    name = dist.metadata["Name"] if dist is not None else None
    return Origin("entry point", name, dist.version if dist is not None else None, f"{point.name} = {point.value}")


@functools.cache
def _declared() -> dict[str, tuple[importlib.metadata.EntryPoint, Origin]]:
    """The engines installed packages declare, by model type, checked for clashes (nothing imported yet)."""
    found: dict[str, tuple[importlib.metadata.EntryPoint, Origin]] = {}
    for point in importlib.metadata.entry_points(group=GROUP):
        origin = _distribution(point)
        if point.name in _built_in():
            raise EngineError(origin.label(), f"entry point {point.name!r}", f"clashes with the built-in engine "
                              f"{point.name!r}; a plugin's model type must be a name of its own (group {GROUP})")
        if point.name in found and found[point.name][1].package != origin.package:
            other = found[point.name][1]
            raise EngineError(origin.label(), f"entry point {point.name!r}",
                              f"{other.label()} declares the same model type; uninstall one of them")
        found.setdefault(point.name, (point, origin))  # one distribution seen twice on sys.path counts once
    return found


def _checked(spec: object, model_type: str, origin: Origin, where: str) -> EngineSpec:
    """`spec` if it is a usable EngineSpec registered as `model_type`, else an EngineError naming the package."""
    if not isinstance(spec, EngineSpec):
        raise EngineError(origin.label(), where, f"is a {type(spec).__name__}, not a trainer.plugin.EngineSpec")
    if spec.model_type != model_type:
        raise EngineError(origin.label(), where, f"declares model_type {spec.model_type!r}; it is registered as "
                          f"{model_type!r}, and the two must be the same")
    try:
        schema = spec.experiment_schema()
    except Exception as e:  # noqa: BLE001 - whatever the plugin's import raises, the user gets one line
        raise EngineError(origin.label(), f"{where}: schema", f"{spec.schema!r} cannot be loaded ({_why(e)})") from None
    if not dataclasses.is_dataclass(schema) or "model" not in {f.name for f in dataclasses.fields(schema)}:
        raise EngineError(origin.label(), f"{where}: schema", f"{spec.schema!r} is not an experiment schema (a dataclass "
                          "with a `model` section, e.g. one extending trainer.plugin.ExperimentHeader)")
    return spec


def _why(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")


@functools.cache
def _plugin(model_type: str) -> EngineSpec:
    point, origin = _declared()[model_type]
    try:
        spec = point.load()
    except Exception as e:  # noqa: BLE001
        raise EngineError(origin.label(), f"entry point {point.name!r}", f"{point.value} cannot be loaded ({_why(e)})") from None
    return _checked(spec, model_type, origin, f"entry point {point.name!r}")


def _module_origin(module: str) -> Origin:
    top = module.split(".")[0]
    names = importlib.metadata.packages_distributions().get(top) or []
    if not names:
        return Origin("import path")
    return Origin("import path", names[0], importlib.metadata.version(names[0]))


@functools.cache
def _by_import_path(path: str) -> EngineSpec | None:
    """The SPEC of module `path`, or None when no top-level module of that name exists (a mistyped name, most likely)."""
    if importlib.util.find_spec(path.split(".")[0]) is None:  # a top-level lookup imports nothing
        return None
    origin = _module_origin(path)
    try:
        module = importlib.import_module(path)
    except Exception as e:  # noqa: BLE001
        raise EngineError(origin.label(), f"module {path!r}", f"cannot be imported ({_why(e)})") from None
    if not hasattr(module, SPEC):
        raise EngineError(origin.label(), f"module {path!r}", f"has no {SPEC}; a module named by model.type declares "
                          f"its engine as {SPEC} = trainer.plugin.EngineSpec(...)")
    return _checked(getattr(module, SPEC), path, origin, f"{path}.{SPEC}")


def specs() -> dict[str, EngineSpec]:
    """Every engine this installation knows, by model type: the built-in ones first, then every installed plugin's
    (each imported and checked: a broken one is an EngineError)."""
    return {**_built_in(), **{name: _plugin(name) for name in _declared()}}


def names() -> list[str]:
    """The model types of the built-in engines and of every installed plugin (no plugin is imported)."""
    return [*_built_in(), *_declared()]


def spec_for(model_type: str | None, *, import_path: bool = False) -> EngineSpec | None:
    """The spec registered for `model_type`, or None; an EngineError when the plugin that declares it is broken.

    `import_path`: also try `model_type` as the import path of a module with a SPEC (for experiment files only)."""
    if not isinstance(model_type, str):
        return None
    if model_type in _built_in():
        return _built_in()[model_type]
    if model_type in _declared():
        return _plugin(model_type)
    if import_path and IMPORT_PATH.fullmatch(model_type):
        return _by_import_path(model_type)
    return None


def origin(spec: EngineSpec) -> Origin:
    """Where `spec` came from: built in, an installed package's entry point, or a module found by its import path."""
    if _built_in().get(spec.model_type) is spec:
        return BUILT_IN
    if spec.model_type in _declared():
        return _declared()[spec.model_type][1]
    return _module_origin(spec.model_type)


def engine_record(spec: EngineSpec) -> dict:
    """The record's `engine` section: which engine trained the run, from which package and version, and for a
    plugin a hash of its Python source (an editable install keeps its version while its code changes)."""
    found = origin(spec)
    entry = {"model_type": spec.model_type, "module": spec.module or None, "found_by": found.found_by,
             "package": found.package, "version": found.version, "entry_point": found.entry_point}
    if found is not BUILT_IN:
        entry["source_sha256"] = source_sha256(spec.module or spec.model_type)
    return entry


def source_sha256(module: str) -> str | None:
    """sha256 over the Python files of the top-level package that holds `module` (path and bytes of each, sorted)."""
    try:
        found = importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return None
    if found is None or not found.origin or not Path(found.origin).is_file():
        return None
    files = sorted(Path(found.origin).parent.rglob("*.py")) if found.submodule_search_locations else [Path(found.origin)]
    root = Path(found.origin).parent
    digest = hashlib.sha256()
    for path in files:
        if "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def load(spec: EngineSpec) -> ModuleType:
    """The engine's module (this imports torch), or, for a plugin, an EngineError naming the package when it cannot
    train. A built-in engine that does not load is a bug of this checkout: its traceback is kept."""
    found = origin(spec)
    if found is BUILT_IN:
        return spec.load()
    try:
        return spec.load()
    except Exception as e:  # noqa: BLE001 - a plugin's import may raise anything; the user gets one line
        raise EngineError(found.label(), f"module {spec.module!r}", f"cannot train ({_why(e)})") from None


def spec_of(data: dict, source: str) -> EngineSpec:
    """The spec an experiment mapping asks for through `model.type`, or a ConfigError naming the choices."""
    model = data.get("model")
    trained = [name for name in names() if not (name in _built_in() and _built_in()[name].tracked)]  # `script` is track()'s
    known, other = ", ".join(map(repr, trained)), f"; or the import path of a module with a {SPEC}"
    if not isinstance(model, dict) or "type" not in model:
        raise ConfigError(source, "model.type", f"missing; expected one of {known}{other}")
    kind = model["type"]
    spec = spec_for(kind, import_path=True) if isinstance(kind, str) else None
    if spec is None:
        raise ConfigError(source, "model.type", f"expected one of {known}, got {kind!r}{did_you_mean(str(kind), trained)}{other}")
    return spec
