"""The "Introspection" section: a summary of what the network's layers, gradients and updates
looked like during training, read from `introspection.json` (trainer/introspect/recorder.py).
The figures of the same data are on the page already (they are registered with the run)."""
from __future__ import annotations

import math

from trainer.tracking import layout

from ..markup import Safe, number
from ..runs import RunView
from ..site import render_section
from .gradcheck import shape_text, steps_text

def percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def value(v) -> str:
    """Three significant digits, the precision these diagnostics carry."""
    return "–" if v is None else f"{v:.3g}"


def log_value(v) -> str:
    return "–" if v is None else f"{v:.2f}"


def span(first, last, single: bool, fmt=value) -> str:
    """`first → last`, or one value when only one snapshot was recorded."""
    return fmt(last) if single else f"{fmt(first)} → {fmt(last)}"


def init_text(init: dict) -> dict:
    vocab = round(math.exp(init["uniform_loss"])) if init.get("uniform_loss") is not None else None
    gap = init.get("relative_gap")
    return {"loss": number(init.get("loss")), "uniform": number(init.get("uniform_loss")), "vocab": vocab,
            "gap": "–" if gap is None else f"{100 * gap:+.2f}%", "tolerance": percent(init.get("tolerance")),
            "flagged": bool(init.get("flagged"))}


def layer_rows(report: dict, snapshots: list[dict]) -> list[dict]:
    rows = []
    for name, meta in report["layers"].items():
        for snap in snapshots:
            s = snap["layers"].get(name)
            if s is None:
                continue
            rows.append({"layer": name, "kind": meta["kind"], "step": number(snap["step"]), "mean": value(s["mean"]),
                         "std": value(s["std"]), "saturated": percent(s["saturated"]), "dead": percent(s["dead"]),
                         "grad_std": value(s.get("grad_std")), "grad_to_data": value(s.get("grad_to_data"))})
    return rows


def param_rows(report: dict, first: dict, last: dict) -> list[dict]:
    rows = []
    for name, meta in report["params"].items():
        a, b = first["params"].get(name, {}), last["params"].get(name, {})
        rows.append({"param": name, "shape": shape_text(meta["shape"]),
                     "grad_to_data": span(a.get("grad_to_data"), b.get("grad_to_data"), first is last),
                     "update_to_data": span(a.get("update_to_data"), b.get("update_to_data"), first is last, log_value)})
    return rows


def norm_rows(report: dict, snapshots: list[dict]) -> list[dict]:
    return [{"layer": name, "step": number(snap["step"]), "offset": value(s["mean_offset"]), "noise": value(s["mean_offset_noise"]),
             "var_ratio": value(s["var_ratio"])}
            for name in report["batchnorm"] for snap in snapshots if (s := snap["batchnorm"].get(name))]


def attention_rows(report: dict, snapshots: list[dict]) -> tuple[list[int], list[dict]]:
    """Head numbers, and one row per attention layer and step: each head's entropy."""
    layers = (report.get("attention") or {}).get("layers") or {}
    heads = list(range(max((meta["heads"] for meta in layers.values()), default=0)))
    rows = [{"layer": name, "step": number(snap["step"]), "heads": [value(v) for v in snap["attention"][name]]}
            for name in layers for snap in snapshots if name in (snap.get("attention") or {})]
    return heads, rows


def build(run: RunView) -> Safe | None:
    report = run.read_json(layout.INTROSPECTION)
    if not isinstance(report, dict) or not report.get("snapshots"):
        return None
    snaps = report["snapshots"]
    first, last = snaps[0], snaps[-1]
    ends = [first] if first is last else [first, last]
    heads, attention = attention_rows(report, ends)
    return render_section(
        "sections/introspection.md.j2",
        steps=steps_text([s["step"] for s in snaps]), interval=number(report["interval"]), init=init_text(report["init"]),
        first_step=number(first["step"]), last_step=number(last["step"]),
        layers=layer_rows(report, ends), params=param_rows(report, first, last), norms=norm_rows(report, ends),
        saturation=f"{report['saturation']:g}", file=layout.INTROSPECTION, heads=heads, attention=attention,
        uniform_entropy=value((report.get("attention") or {}).get("uniform_entropy")),
        window=number((report.get("attention") or {}).get("window")),
    )
