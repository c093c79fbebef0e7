"""Small MNIST-derived files shipped with the checkpoints, so the app needs no MNIST download:

  checkpoints/mnist/exact_pool.safetensors   POOL_PER_CLASS training digits per class (8 bits a
      pixel, as MNIST stores them: within one grey level of the loaded data, whose source may scale
      by 1/255 or 1/256), the ones `per_class(labels, n, POOL_SEED)` draws: the pool of the app's
      exact reference denoiser. Any n <= POOL_PER_CLASS with that seed is its first n of each class.
  checkpoints/lenet/test_features.safetensors   mean and covariance of our LeNet's features of the
      10k test digits, per class ("mu_3", "cov_3") and over all ("mu_all", "cov_all"): the real
      side of every FLD, so a comparison in the app needs no test set.

Both are written by `python -m diffusion.evaluate lenet --update-card` (after training the judge:
the statistics belong to its features) and checked against the data by tests/test_shipped.py.
Read with safetensors: plain tensors, nothing is unpickled.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..models.checkpoint import CHECKPOINTS

POOL_FILE = CHECKPOINTS / "mnist" / "exact_pool.safetensors"
STATS_FILE = CHECKPOINTS / "lenet" / "test_features.safetensors"
POOL_PER_CLASS, POOL_SEED = 300, 1
ALL = "all"


def save_pool(digits_u8: torch.Tensor, labels: torch.Tensor, path: Path = POOL_FILE) -> None:
    """digits (N, 28, 28) uint8, labels (N,) -> the pool file."""
    save_file({"digits": digits_u8.to(torch.uint8).contiguous(), "labels": labels.long().contiguous()}, str(path))


@lru_cache(maxsize=1)
def load_pool(path: Path = POOL_FILE) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(digits (N, 28, 28) uint8, labels (N,)) or None when no pool is shipped."""
    if not Path(path).exists():
        return None
    t = load_file(str(path))
    return t["digits"], t["labels"]


def pool_subset(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The first n digits of each class of the shipped pool when it holds what
    per_class(labels, n, seed) would draw from the training set, else None."""
    pool = load_pool()
    if pool is None or seed != POOL_SEED or n > POOL_PER_CLASS:
        return None
    digits, labels = pool
    idx = torch.cat([(labels == d).nonzero().squeeze(1)[:n] for d in range(10)])
    return digits[idx], labels[idx]


def save_stats(stats: dict[str, tuple[np.ndarray, np.ndarray]], path: Path = STATS_FILE) -> None:
    """{"3": (mu, cov), ..., "all": (mu, cov)} -> the statistics file (float64)."""
    tensors = {}
    for key, (mu, cov) in stats.items():
        tensors[f"mu_{key}"] = torch.as_tensor(mu, dtype=torch.float64).contiguous()
        tensors[f"cov_{key}"] = torch.as_tensor(cov, dtype=torch.float64).contiguous()
    save_file(tensors, str(path))


@lru_cache(maxsize=1)
def load_stats(path: Path = STATS_FILE) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """The shipped statistics ({"0".."9", "all"} -> (mu, cov)) or None when none are shipped."""
    if not Path(path).exists():
        return None
    t = load_file(str(path))
    keys = [k[3:] for k in t if k.startswith("mu_")]
    return {k: (t[f"mu_{k}"].numpy(), t[f"cov_{k}"].numpy()) for k in keys}
