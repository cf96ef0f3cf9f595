"""The "Gradient check" section: a manual-backprop run's hand-written gradients against autograd's.

Reads `gradcheck.json` (written by trainer/engines/gradcheck.py): one entry per checked step, each
with a row per tensor. The table shows the last check: the end of training, or the check that
failed and stopped the run.
"""
from __future__ import annotations

from trainer.tracking import layout

from ..markup import Safe, number
from ..runs import RunView
from ..site import render_section

def steps_text(steps: list[int]) -> str:
    shown = [number(s) for s in steps]
    return ", ".join(shown) if len(shown) <= 4 else f"{shown[0]}, {shown[1]}, …, {shown[-1]}"


def shape_text(shape: list[int]) -> str:
    return " × ".join(map(str, shape)) or "scalar"


def row(tensor: dict) -> dict:
    return {
        "tensor": tensor["tensor"],
        "shape": shape_text(tensor["shape"]),
        "exact": "yes" if tensor["exact"] else "no",
        "close": "yes" if tensor["close"] else "NO",
        "max_diff": tensor.get("problem") or number(tensor["max_abs_diff"], 2),
    }


def largest_difference(checks: list[dict]) -> tuple[float, str, int] | None:
    found = [(t["max_abs_diff"], t["tensor"], c["step"]) for c in checks for t in c["tensors"] if t["max_abs_diff"] is not None]
    return max(found) if found else None


def build(run: RunView) -> Safe | None:
    report = run.read_json(layout.GRADCHECK)
    if not isinstance(report, dict) or not report.get("checks"):
        return None
    checks = report["checks"]
    last = checks[-1]
    failed = next((c for c in checks if not c["ok"]), None)
    worst = largest_difference(checks)
    return render_section(
        "sections/gradcheck.md.j2",
        count=len(checks), steps=steps_text([c["step"] for c in checks]), failed=failed,
        failed_tensor=next((t["tensor"] for t in failed["tensors"] if not t["close"]), "") if failed else "",
        worst=number(worst[0], 2) if worst else "–", worst_tensor=worst[1] if worst else "", worst_step=number(worst[2]) if worst else "",
        rtol=f"{report['rtol']:g}", atol=f"{report['atol']:g}", last_step=number(last["step"]),
        loss=number(last["loss"], 6), autograd_loss=number(last["autograd_loss"], 6),
        rows=[row(t) for t in last["tensors"]],
    )
