"""The image kind in this process: its stratified split and shifts, a folder of PNGs per class read and trained on,
the same folder as a downloaded archive, and a run stopped by a signal and resumed on the exact trajectory."""
from __future__ import annotations

import zipfile

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from tests.conftest import REPO
from tests.engine_runs import assert_resume_continues_exactly, start_run
from trainer import experiments
from trainer.kinds.image import data, engine
from trainer.plugin import sha256_file

DIGITS_CNN = REPO / "experiments" / "digits-cnn.yaml"

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # as `train.threads: 1` in the experiment


def write_folder(root, classes: dict[str, int], color: bool = False):
    """Class folders of small PNGs: class i is a bright square at column i, RGB (or RGBA for the last class) if `color`."""
    for index, (name, count) in enumerate(classes.items()):
        (root / name).mkdir(parents=True)
        for k in range(count):
            image = np.zeros((12, 12, 4 if color and index == len(classes) - 1 else 3 if color else 1), dtype=np.float32)
            image[2 + k % 3: 6 + k % 3, 2 * index: 2 * index + 4] = 1.0
            if image.shape[2] == 4:
                image[..., 3] = 1.0
            plt.imsave(root / name / f"{k:03d}.png", image[..., 0] if image.shape[2] == 1 else image, cmap="gray", vmin=0, vmax=1)
    (root / "notes.txt").write_text("not a class")  # files beside the class folders are left alone
    return root


def test_the_split_keeps_every_class_in_proportion_and_never_moves():
    cfg = experiments.load(DIGITS_CNN)
    labels = data.digits(cfg.data).labels
    split = engine.stratified_split(labels, cfg, "x.yaml")
    assert sorted(np.concatenate([split.train, split.val, split.test]).tolist()) == list(range(len(labels)))
    for c in range(10):
        share = (labels[split.test] == c).mean()
        assert abs(share - (labels == c).mean()) < 0.01, c
    assert np.array_equal(engine.stratified_split(labels, cfg, "x.yaml").test, split.test)
    moved = experiments.load(DIGITS_CNN, ["data.split_seed=1"])
    assert not np.array_equal(engine.stratified_split(labels, moved, "x.yaml").test, split.test)


def test_a_shift_moves_each_image_whole_and_fills_the_border_with_zeros():
    batch = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 1, 4, 4) + 1
    moved = engine.shifted(batch, 1, torch.Generator().manual_seed(0))
    again = engine.shifted(batch, 1, torch.Generator().manual_seed(0))
    assert torch.equal(moved, again)
    for original, image in zip(batch, moved):
        padded = torch.nn.functional.pad(original, (1, 1, 1, 1))
        assert any(torch.equal(image, padded[:, dy: dy + 4, dx: dx + 4]) for dy in range(3) for dx in range(3))
    assert torch.equal(engine.shifted(batch, 0, torch.Generator()), batch)


def test_a_folder_of_class_subfolders_is_read_in_class_order_as_grey_or_colour(tmp_path):
    root = write_folder(tmp_path / "shapes", {"b-square": 4, "a-square": 3, "c-square": 5}, color=True)
    grey = data.load(experiments.load(DIGITS_CNN, [f"data.path={root}", "data.image_size=8"]).data, "x.yaml")
    assert grey.classes == ["a-square", "b-square", "c-square"] and grey.pixels.shape == (12, 1, 8, 8)
    assert grey.labels.tolist() == [0] * 3 + [1] * 4 + [2] * 5
    assert 0.0 <= grey.pixels.min() and grey.pixels.max() <= 1.0
    assert grey.record["images_per_class"] == {"a-square": 3, "b-square": 4, "c-square": 5} and len(grey.record["sha256"]) == 64
    colour = data.load(experiments.load(DIGITS_CNN, [f"data.path={root}", "data.grayscale=false"]).data, "x.yaml")
    assert colour.pixels.shape == (12, 3, 32, 32)  # a folder's default size


def test_a_folder_as_an_archive_from_a_url_is_checked_unpacked_once_and_read_like_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINBOOK_CACHE_DIR", str(tmp_path / "cache"))
    root = write_folder(tmp_path / "shapes", {"a": 3, "b": 3})
    archive = tmp_path / "shapes.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(root.rglob("*.png")):
            z.write(path, f"shapes/{path.relative_to(root)}")  # one top folder holding the class folders
    overrides = [f"data.url=file://{archive}", f"data.sha256={sha256_file(archive)}", "data.image_size=8"]
    cfg = experiments.load(DIGITS_CNN, overrides).data
    downloaded = data.load(cfg, "x.yaml")
    local = data.load(experiments.load(DIGITS_CNN, [f"data.path={root}", "data.image_size=8"]).data, "x.yaml")
    assert np.array_equal(downloaded.pixels, local.pixels) and downloaded.classes == ["a", "b"]
    assert downloaded.record["sha256"] == local.record["sha256"] and downloaded.record["source"] == f"file://{archive}"
    archive.unlink()  # the second time it comes from the cache
    assert np.array_equal(data.load(cfg, "x.yaml").pixels, local.pixels)


def test_a_cnn_trains_on_a_folder_of_colour_pngs_and_writes_its_figures_and_report(tmp_path):
    root = write_folder(tmp_path / "shapes", {"left": 10, "middle": 10, "right": 10}, color=True)
    cfg = experiments.load(DIGITS_CNN, [f"data.path={root}", "data.image_size=12", "data.grayscale=false",
                                        "data.test_fraction=0.3", "train.epochs=3", "train.batch_size=8"])
    prepared, run = start_run(tmp_path / "runs", cfg, engine, str(DIGITS_CNN))
    final = engine.train(prepared, run)
    report = run.file("classification.json").read_text()
    assert '"left"' in report and final["test_images"] == 9 and 0.0 <= final["test_accuracy"] <= 1.0
    assert {f["file"] for f in run.record["figures"]} == {"loss.png", "accuracy.png", "confusion.png", "misclassified.png",
                                                         "filters.png"}
    assert all(run.file(f["file"]).stat().st_size > 1000 for f in run.record["figures"])


def test_a_stopped_and_resumed_image_run_continues_the_exact_trajectory(tmp_path, monkeypatch):
    cfg = experiments.load(DIGITS_CNN, ["train.epochs=2", "train.checkpoint_interval=10"])
    assert_resume_continues_exactly(tmp_path, monkeypatch, engine, cfg, str(DIGITS_CNN), stop_at=25,
                                    compared=("classification.json", "confusion.png", "misclassified.png", "filters.png"))
