"""The images an image experiment learns: scikit-learn's digits, or a folder with one subfolder of PNGs per class.

A folder may also arrive as a .zip or .tar.gz archive from `data.url`, downloaded once into the cache and checked
against `data.sha256`, then unpacked next to the download. Every image becomes float32 pixels in [0, 1] of one
size and channel count; every mistake (a missing folder, one class, an image that is not a PNG) is one
ConfigError naming the file and what was expected.
"""
from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import matplotlib.image
import numpy as np
import torch
from sklearn.datasets import load_digits
from torch.nn import functional as F

from trainer.plugin import ConfigError, DownloadError, download, sha256_bytes, sha256_file

from . import ImageDataConfig

LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""ITU-R BT.601 weights of red, green and blue in a grey level"""
MAX_IMAGES = 200_000  # a folder larger than this is not what a small CNN trained on a CPU is for
MIN_PER_CLASS = 3  # one image each for training, validation and test


@dataclass
class Images:
    pixels: np.ndarray
    """float32 [n, channels, size, size] in [0, 1]"""
    labels: np.ndarray
    """int64 [n], indices into `classes`"""
    classes: list[str]
    record: dict
    """the run record's data section, before the split is added"""


def load(cfg: ImageDataConfig, source: str) -> Images:
    if cfg.path is not None and (cfg.url is None or Path(cfg.path).is_dir()):
        return read_folder(Path(cfg.path), cfg, source, "data.path")
    if cfg.url is not None:
        return read_folder(_unpacked(cfg, source), cfg, source, "data.url", origin=cfg.url)
    return digits(cfg)


def digits(cfg: ImageDataConfig) -> Images:
    """scikit-learn's copy of the UCI hand-written digits: 8 x 8 grey levels 0-16, scaled to [0, 1]."""
    found = load_digits()
    levels = found.images.astype(np.uint8)
    pixels = resized(levels[:, None].astype(np.float32) / 16.0, cfg.size)
    record = {"dataset": "digits", "source": "sklearn.datasets.load_digits: UCI ML hand-written digits, 8 x 8 pixels, "
              "grey levels 0-16", "images": len(levels),
              "sha256": sha256_bytes(levels.tobytes() + found.target.astype("<i8").tobytes()),
              "note": "sha256 of the grey levels (uint8, image by image) followed by the labels (int64, little-endian)"}
    return Images(pixels, found.target.astype(np.int64), [str(c) for c in found.target_names], record)


def resized(pixels: np.ndarray, size: int) -> np.ndarray:
    """[n, c, h, w] pixels as [n, c, size, size] (bilinear, antialiased when shrinking); unchanged at that size."""
    if pixels.shape[-2:] == (size, size):
        return pixels
    out = F.interpolate(torch.from_numpy(pixels), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return out.clamp(0, 1).numpy()


# --- a folder of class subfolders -------------------------------------------------------------

def read_folder(root: Path, cfg: ImageDataConfig, source: str, key: str, origin: str | None = None) -> Images:
    files = _class_files(root, source, key)
    classes = sorted(files)
    channels = 1 if cfg.grayscale else 3
    pixels, labels, digests = [], [], []
    for label, name in enumerate(classes):
        for path in files[name]:
            pixels.append(resized(_read_png(path, channels, source, key)[None], cfg.size)[0])
            labels.append(label)
            digests.append(f"{name}/{path.name} {sha256_file(path)}")
    record = {"dataset": Path(origin).stem.removesuffix(".tar") if origin else root.name, "source": origin or str(root),
              "images": len(labels), "images_per_class": {name: len(files[name]) for name in classes},
              "sha256": sha256_bytes("\n".join(digests).encode()),
              "note": "sha256 of the lines 'class/file sha256-of-the-file', in class and file-name order"}
    return Images(np.stack(pixels), np.array(labels, dtype=np.int64), classes, record)


def _class_files(root: Path, source: str, key: str) -> dict[str, list[Path]]:
    """The PNG files of each class subfolder, sorted by name; hidden entries are left out."""
    if not root.exists():
        raise ConfigError(source, key, f"image folder not found: {root}")
    if not root.is_dir():
        raise ConfigError(source, key, f"{root} is not a folder; expected a folder with one subfolder of PNG images per class")
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        files = {f.name: sorted(p for p in f.iterdir() if p.suffix.lower() == ".png" and not p.name.startswith("."))
                 for f in folders}
    except OSError as e:
        raise ConfigError(source, key, f"{root} cannot be read ({e.strerror or e})") from None
    if len(files) < 2:
        found = f"one class folder ({folders[0].name!r})" if folders else "no class folders"
        raise ConfigError(source, key, f"{root} has {found}; expected a subfolder of PNG images for each of at least two classes")
    for name, paths in files.items():
        if len(paths) < MIN_PER_CLASS:
            raise ConfigError(source, key, f"{root / name} has {len(paths)} PNG images; each class needs at least "
                              f"{MIN_PER_CLASS} (for training, validation and test)")
    total = sum(map(len, files.values()))
    if total > MAX_IMAGES:
        raise ConfigError(source, key, f"{root} has {total} PNG images; at most {MAX_IMAGES} are read")
    return files


def _read_png(path: Path, channels: int, source: str, key: str) -> np.ndarray:
    """A PNG file as float32 [channels, h, w] in [0, 1]; transparent pixels count as black."""
    try:
        with path.open("rb") as f:
            image = np.asarray(matplotlib.image.imread(f, format="png"), dtype=np.float32)
    except Exception as e:  # noqa: BLE001 - Pillow reports a damaged file by many exception types; each is this one mistake
        raise ConfigError(source, key, f"{path} is not a readable PNG image ({type(e).__name__}: {e})") from None
    if image.dtype.kind == "u":
        image = image / np.iinfo(image.dtype).max
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3] * image[..., 3:]
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == 3 and channels == 1:
        image = (image @ LUMINANCE)[..., None]
    elif image.shape[2] == 1 and channels == 3:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)


# --- an archive from data.url -----------------------------------------------------------------

def _unpacked(cfg: ImageDataConfig, source: str) -> Path:
    """The folder the archive at `cfg.url` unpacks to, in the cache beside the download (unpacked once, atomically:
    into a temporary folder renamed into place). An archive holding one folder stands for that folder."""
    try:
        archive = download(cfg.url, cfg.sha256)
    except DownloadError as e:
        raise ConfigError(source, "data.url", str(e)) from None
    target = archive.with_name(archive.name + ".unpacked")
    if not target.is_dir():
        scratch = archive.with_name(f".{archive.name}.unpacking-{os.getpid()}")
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            _unpack(archive, scratch, cfg.url, source)
            try:
                scratch.rename(target)
            except OSError:  # another process unpacked the same archive first: theirs is the same content
                if not target.is_dir():
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return _inner_folder(target)


def _inner_folder(folder: Path) -> Path:
    """`folder`, or the one folder in it when that is all it holds (an archive of `pets/cat/*.png`, `pets/dog/...`)."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else folder


def _unpack(archive: Path, folder: Path, url: str, source: str) -> None:
    folder.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                z.extractall(folder)  # member names are made relative: no absolute paths, no '..'
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t:
                t.extractall(folder, filter="data")  # refuses links and paths that leave the folder
        else:
            raise ConfigError(source, "data.url", f"{url} is not a .zip or .tar(.gz) archive; expected an archive of a "
                              "folder with one subfolder of PNG images per class")
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as e:
        raise ConfigError(source, "data.url", f"{url}: the archive cannot be unpacked ({e})") from None
