"""The model of a trained run, for `sample` and `eval`: found (trainer/trained.py), verified, then loaded.

Every check that can refuse without torch comes first: the run's record against its ledger, each file
against the record, the engine's abilities against the command. Only then is the engine imported (and
torch with it) and the weights loaded, with `weights_only=True`.
"""
from __future__ import annotations

import argparse
from types import ModuleType

from .. import experiments, trained
from ..api import folders
from ..config import read_yaml
from ..engines import registry
from ..engines.contract import EngineSpec
from ..errors import UsageError
from ..tracking import checkpoint, layout, weights


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments `sample` and `eval` share: which run, which of its weights, where to run."""
    parser.add_argument("run", help="a run folder or run id, a published run's page (https://<site>/runs/<run id>/), or "
                                    "EXPERIMENT@current, EXPERIMENT@best or EXPERIMENT@latest")
    parser.add_argument("--weights", choices=trained.WEIGHTS_CHOICES, default="final",
                        help="the run's final weights (default) or those of its best state")
    parser.add_argument("--site", metavar="URL", help="look EXPERIMENT@... up among this published site's runs (default: the runs folder)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps", "auto"), help="where the model runs (default: cpu)")


ABILITIES = {"generates": "generate text", "scores_choices": "score multiple-choice questions"}
"""EngineSpec fields a command needs, and what they mean for a person"""


def engine_of(name: str, record: dict, ability: str) -> EngineSpec:
    """The engine that trained the run, refused unless it can do what the command asks (one of ABILITIES)."""
    model = (record.get("config") or {}).get("model")
    model_type = model.get("type") if isinstance(model, dict) else None
    spec = registry.spec_for(model_type)
    if spec is None:
        raise UsageError(name, "", f"trained by the engine {model_type!r}, which is not installed here "
                         f"(installed: {', '.join(registry.names())})")
    if not getattr(spec, ability):
        extra = " (`python -m trainer replay` plays its scenarios again)" if spec.replay else ""
        raise UsageError(name, "", f"the {spec.model_type!r} engine that trained it does not {ABILITIES[ability]}{extra}")
    return spec


def _state(found: trained.TrainedRun) -> dict:
    try:
        if found.whole_checkpoint:
            return checkpoint.load(found.weights)["model"]
        return weights.load(found.weights)["model"]
    except (checkpoint.CheckpointError, KeyError) as e:
        raise UsageError(str(found.weights), "", str(e).removeprefix(f"{found.weights}: ")) from None


def load(args: argparse.Namespace, ability: str) -> tuple[ModuleType, object, trained.TrainedRun]:
    """(the engine module, its Trained model, the verified run) for the run `args.run` names."""
    found = trained.resolve(args.run, args.weights, folders.runs_root(args.runs_dir), args.site,
                            accept=lambda name, record: engine_of(name, record, ability) and None)
    spec = engine_of(found.name, found.record, ability)
    config_path = found.files[layout.CONFIG]
    cfg = experiments.from_dict(read_yaml(config_path), str(config_path))
    engine = registry.load(spec)  # a plugin's module that cannot do what its spec says: one line naming its package
    state = _state(found)
    try:
        model = engine.load_trained(cfg, found.record, found.files, state, args.device)
    except (RuntimeError, KeyError, ValueError) as e:  # state of another architecture: torch lists the mismatches
        lines = [line.strip() for line in str(e).splitlines() if line.strip()] or [type(e).__name__]
        raise UsageError(str(found.weights), "", f"does not fit the run's model ({lines[-1][:200]})") from None
    return engine, model, found
