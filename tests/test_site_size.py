"""The site stays within its budget: thin figures, and the files of old runs in a second store, linked, never lost."""
from __future__ import annotations

import io

from PIL import Image

from trainer.figures import style


def test_figures_are_written_as_palette_pngs_about_a_third_of_aggs_bytes_and_the_same_picture(tmp_path):
    fig, ax = style.figure("Loss", "step", "loss (nats)")
    steps = list(range(1, 400))
    ax.plot(steps, [2 + 1 / s ** 0.5 for s in steps], color=style.TRAIN_COLOR, label="train")
    ax.plot(steps, [2.1 + 1 / s ** 0.4 for s in steps], color=style.VAL_COLOR, label="validation")
    ax.legend()
    agg = io.BytesIO()
    fig.savefig(agg, format="png", dpi=style.DPI, bbox_inches="tight", metadata={"Software": None})

    path = style.save(fig, tmp_path / "loss.png")

    thin = Image.open(path)
    assert thin.mode == "P" and path.stat().st_size < 0.5 * len(agg.getvalue())
    original = Image.open(io.BytesIO(agg.getvalue())).convert("RGB")
    assert thin.size == original.size
    difference = [abs(a - b) for a, b in zip(thin.convert("RGB").tobytes(), original.tobytes())]
    assert sum(difference) / len(difference) < 2 and max(difference) < 64
    assert style.thin_png(agg.getvalue()) == path.read_bytes()  # deterministic: the same bytes every time
