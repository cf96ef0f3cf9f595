"""Image classification (`model.type: image`): the schema and the spec. Torch-free.

A small convolutional network learns to classify images: scikit-learn's hand-written digits by default, or
any folder with one subfolder of PNG images per class (on disk, or downloaded once as an archive checked by its
sha256). The split is stratified and seeded. The engine is trainer/kinds/image/engine.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from trainer.plugin import Count, EngineSpec, ExperimentHeader, KeyMetric, LoopConfig, OptimConfig, Range, check_download

CLASSIFICATION = "classification.json"
"""the test split's evaluation: accuracy per class, the confusion matrix and every misclassified image"""
FOLDER_IMAGE_SIZE = 32
"""the side a folder's images are resized to unless `data.image_size` says otherwise"""


@dataclass
class ImageDataConfig:
    dataset: Literal["digits"] = "digits"
    """images when no `path` or `url` is given: scikit-learn's hand-written digits (UCI), 1,797 images of 8 x 8
    pixels in 10 classes"""
    path: str | None = None
    """a folder with one subfolder of PNG images per class (the subfolder's name is the class) to learn instead;
    when `url` is also given, this local folder is used if it exists"""
    url: str | None = None
    """download such a folder once into the cache, as a .zip or .tar.gz archive (needs `sha256`)"""
    sha256: str | None = None
    """expected sha256 of the archive at `url`; a mismatch stops the run"""
    image_size: Annotated[int, Range(ge=4, le=1024)] | None = None
    """side in pixels of the square every image is resized to; default: 8 for digits, 32 for a folder"""
    grayscale: bool = True
    """read a folder's images as one grey channel; false keeps their red, green and blue"""
    test_fraction: Annotated[float, Range(gt=0, lt=1)] = 0.2
    """share of each class held out for the test accuracy"""
    val_fraction: Annotated[float, Range(gt=0, lt=1)] = 0.1
    """share of each class held out for validation during training"""
    split_seed: int = 0
    """seed of the stratified split, fixed so that the split never moves"""

    @property
    def size(self) -> int:
        return self.image_size or (8 if self.path is None and self.url is None else FOLDER_IMAGE_SIZE)

    def check(self):
        if self.test_fraction + self.val_fraction >= 0.9:
            return "val_fraction", (f"test_fraction + val_fraction must leave at least 10% of each class to train on, "
                                    f"got {self.test_fraction:g} + {self.val_fraction:g}")
        return check_download(self.url, self.sha256)


@dataclass
class ImageModelConfig:
    type: Literal["image"] = "image"
    """model family; `image` is a small convolutional network: 3 x 3 convolutions, then a classifier MLP"""
    channels: list[Annotated[int, Range(ge=1, le=1024)]] = field(default_factory=lambda: [16, 32])
    """output channels of each 3 x 3 convolution (zero padding keeps the size; ReLU after each); the first one's
    filters are drawn on the run page"""
    grid: Annotated[int, Range(ge=1, le=64)] = 4
    """the last convolution's output is max-pooled 2 x 2, then averaged down to grid x grid cells for the classifier"""
    hidden: Annotated[int, Range(ge=1, le=65536)] = 64
    """hidden units of the classifier (ReLU) between the feature grid and the classes"""

    def check(self):
        if not self.channels:
            return "channels", "expected at least one convolution, e.g. [16, 32]"
        return None


@dataclass
class ImageEpochs:
    """How long the network trains and how it sees the images (declared before LoopConfig's fields)."""

    epochs: Count = 20
    """passes over the training split, in a fresh seeded order each"""
    batch_size: Annotated[int, Range(ge=1, le=65536)] = 64
    """images per optimisation step"""
    shift: Annotated[int, Range(ge=0, le=64)] = 1
    """training images are shifted by up to this many pixels each way (zero padded), drawn afresh every step; 0: off"""


@dataclass
class ImageTrainConfig(LoopConfig, ImageEpochs):
    """The classifier's loop: its epochs, then the loop basics, with defaults for a small network."""

    log_interval: Count = 50
    """steps between progress lines when the output is not a terminal"""
    threads: Annotated[int, Range(ge=0, le=1024)] = 1
    """torch CPU threads; 0 keeps torch's default. The network is small, so one thread is fastest"""


@dataclass(kw_only=True)
class ImageExperiment(ExperimentHeader):
    model: ImageModelConfig
    """the classifier"""
    data: ImageDataConfig = field(default_factory=ImageDataConfig)
    """the images and their split"""
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=3e-3, weight_decay=1e-4))
    """the optimiser"""
    train: ImageTrainConfig = field(default_factory=ImageTrainConfig)
    """the training loop"""


SPEC = EngineSpec(
    "image", ImageExperiment, "image-classification",
    KeyMetric("test_accuracy", "max", "test accuracy", "fraction of test images classified correctly",
              comparable_by=("data.sha256", "data.split")),
    "trainer.kinds.image.engine",
    description="a small CNN on scikit-learn's digits or a folder of PNG images per class, stratified split",
    multi_process=False, sections=("image_classes",), artifacts=(CLASSIFICATION,),
)
