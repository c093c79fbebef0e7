"""The 2D world: spiral, s-curve and moons, each scaled into [-1, 1] with its aspect ratio kept.

Curves follow the original write-up:
  spiral   t ~ U(1.5 pi, 4.5 pi):      (t cos t, t sin t)
  s_curve  t = 3 pi (U - 0.5):         (sin t, sign(t) (cos t - 1))
  moons    t ~ U(0, pi), either half:  (cos t, sin t) or (1 - cos t, 1 - sin t - 0.5)
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

POINT_LABELS = ("spiral", "s_curve", "moons")


def _curve(name: str, u: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    """Raw (unscaled) curve points (n, 2) at uniform parameters u in [0, 1]."""
    if name == "spiral":
        t = 1.5 * math.pi + 3 * math.pi * u
        return torch.stack([t * torch.cos(t), t * torch.sin(t)], 1)
    if name == "s_curve":
        t = 3 * math.pi * (u - 0.5)
        return torch.stack([torch.sin(t), torch.sign(t) * (torch.cos(t) - 1)], 1)
    if name == "moons":
        t = math.pi * u
        outer = torch.stack([torch.cos(t), torch.sin(t)], 1)
        inner = torch.stack([1 - torch.cos(t), 1 - torch.sin(t) - 0.5], 1)
        return torch.where(half[:, None], inner, outer)
    raise ValueError(f"unknown pattern {name!r}; allowed: {', '.join(POINT_LABELS)}")


@lru_cache(maxsize=None)
def _scale(name: str) -> tuple[float, float]:
    """One (lo, hi) over both coordinates of the whole curve, so every sample size scales alike."""
    u = torch.linspace(0, 1, 200_001, dtype=torch.float64)
    pts = torch.cat([_curve(name, u, torch.zeros_like(u, dtype=torch.bool)),
                     _curve(name, u, torch.ones_like(u, dtype=torch.bool))])
    return float(pts.min()), float(pts.max())


def pattern(name: str, u: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    """Curve points in [-1, 1] (float32, (n, 2)) at parameters u (n,) in [0, 1]; `half` picks the
    moon (ignored by the other patterns)."""
    lo, hi = _scale(name)
    return (2 * (_curve(name, u.double(), half) - lo) / (hi - lo) - 1).float()


def sample_pattern(name: str, n: int, generator: torch.Generator) -> torch.Tensor:
    """n points (n, 2) drawn from the named pattern's data distribution."""
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    half = torch.rand(n, generator=generator) < 0.5
    return pattern(name, u, half)


def sample_points(labels: torch.Tensor, names: tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """One point per label index (n,) into `names`: the training batch for those labels."""
    x = torch.empty(len(labels), 2)
    for k, name in enumerate(names):
        idx = (labels == k).nonzero().squeeze(1)
        if len(idx):
            x[idx] = sample_pattern(name, len(idx), generator)
    return x


def curve_points(name: str, n: int = 4000) -> np.ndarray:
    """A dense, evenly parameterised set of n points on the curve, for evaluation (n, 2)."""
    u = torch.linspace(0, 1, n // 2 if name == "moons" else n, dtype=torch.float64)
    if name == "moons":
        u = torch.cat([u, u])
        half = torch.arange(len(u)) >= len(u) // 2
    else:
        half = torch.zeros(len(u), dtype=torch.bool)
    return pattern(name, u, half).numpy()
