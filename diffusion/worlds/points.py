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

from ..core.checks import invalid
from ..core.metrics import curve_fit, spread
from ..models.exact import ExactDenoiser
from .base import Sizes, World
from .labels import RANDOM

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
    raise invalid("pattern", name, ", ".join(POINT_LABELS))


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


class PointTraining:
    """Fresh points every step (the data distribution is known): batch k is drawn from `gen`."""

    def __init__(self, names: tuple[str, ...], seed: int):
        self.names, self.seed = names, seed

    def batch(self, step: int, gen: torch.Generator, batch_size: int):
        y = torch.randint(0, len(self.names), (batch_size,), generator=gen)
        return sample_points(y, self.names, gen), y

    def reference(self, gen: torch.Generator, n: int):
        return self.batch(0, gen, n)

    def validation_batch(self):
        gen = torch.Generator().manual_seed(10_000 + self.seed)
        y = torch.arange(4096) % len(self.names)
        return sample_points(y, self.names, gen), y


class PointsWorld(World):
    """2D point clouds: data (n, 2) float32 in [-1, 1], stored and drawn as they are."""

    def training_data(self, labels, seed, validation=None):
        unknown = sorted(set(labels) - set(POINT_LABELS))
        if not labels or unknown:
            raise invalid("labels", list(labels), f"one or more of {', '.join(POINT_LABELS)}")
        return PointTraining(tuple(labels), seed)

    def held_out(self, n_per_class, seed=0):
        """Fresh pattern points (training draws its own from other seeds: the curves are infinite)."""
        gen = torch.Generator().manual_seed(777_000 + seed)
        return (torch.cat([sample_pattern(k, n_per_class, gen) for k in self.labels]),
                torch.arange(len(self.labels)).repeat_interleave(n_per_class))

    def exact_model(self, n: int, alphas_cumprod, seed: int = 1) -> ExactDenoiser:
        """The exact denoiser of n pattern points per class (drawn with `seed`): they lie on the curves."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 20_000:
            raise invalid("n", n, "an integer in 1..20000 (points per class)")
        gen = torch.Generator().manual_seed(seed)
        data = torch.cat([sample_pattern(k, n, gen) for k in self.labels])
        labels = torch.arange(len(self.labels)).repeat_interleave(n)
        return ExactDenoiser(data, labels, alphas_cumprod, null_label=len(self.labels))

    def live_model(self, size) -> dict:
        if isinstance(size, float) and size.is_integer():  # a slider's 128.0 is 128: no rounding
            size = int(size)
        if isinstance(size, bool) or not isinstance(size, int) or not 32 <= size <= 512:
            raise invalid("width", size, "an integer in 32..512")
        return dict(width=size, depth=3, fourier=6)

    def measure(self, label: str, samples: np.ndarray) -> dict:
        """distance: mean distance from a sample to the requested pattern (to the nearest of all
        patterns for "random"), lower is better; spread: mean distance from the centroid;
        coverage: mean distance from a point of the pattern(s) to the nearest sample, lower is better."""
        targets = self.labels if label == RANDOM else [label]
        curve = np.concatenate([curve_points(k) for k in targets])
        return {**curve_fit(samples, curve), "spread": spread(samples)}

    def metric_headers(self, label: str) -> list[str]:
        return ["distance to pattern", "spread"]


POINTS = PointsWorld(
    name="points", title="2D points", noun="points", labels=POINT_LABELS, sample_shape=(2,),
    architecture="PointDenoiser", sizes=Sizes(max_n=10_000, default_n=1000, compare_n=1000),
    default_label="spiral", preview=dict(n=500, steps=25),
    # Chosen by `evaluate points --samplers ...` (see the card): the SDE solver with 20 steps, its lambda
    # clipped at SNR 1, is within 1.05x of the converged ODE's distance and coverage at guidance 1 and 2 (10
    # steps: 1.11x), as good as DDPM-100. Deterministic runs keep the whole lambda range: a single jump from
    # pure noise to SNR 1 is an error an ODE carries to the end (DDIM-100 clipped: 1.37x).
    sampling=dict(steps=20, sampler="dpm++2m-sde", spacing="logsnr", stochastic_spacing="logsnr-clipped"),
    compare=dict(steps=20, sampler="dpm++2m-sde"),
    train_preset=dict(steps=60_000, batch_size=1024, lr=2e-3, warmup=200, ema_decay=0.9995, p_uncond=0.4,
                      schedule="linear", timesteps=1000, labels=list(POINT_LABELS),
                      model=dict(width=128, depth=3, fourier=8), eval_every=500, save_every=5000),
    live=dict(size=128, max_seconds=60, steps=4000, batch_size=256, schedule="linear"),
    examples=(("spiral", 2.0, 100, "ddpm", 0, 1000), ("moons", 0.0, 100, "ddpm", 1, 1000),
              ("random", 1.0, 50, "ddim", 2, 2000), ("s_curve", 7.0, 100, "ddpm", 3, 1000)),
    metric_names=("distance", "spread"), has_field=True, frontier=("coverage", "distance"),
    frontier_note="Each curve is one guidance method through its guidance scales (numbers at the points): "
                  "lower is closer to the pattern, further left covers more of it, so the best trade-off "
                  "lies toward the lower left.",
    measure_notes={"distance": ("mean distance from a sample to the asked pattern: are the samples on it?", "lower"),
                   "coverage": ("mean distance from a point of the pattern to the nearest sample: is all of it "
                                "drawn?", "lower"),
                   "spread": ("mean distance of the samples from their centroid: how far the cloud reaches "
                              "(neither way is better; a collapse toward the middle makes it small)", "")},
    weak_preset=dict(steps=3_000, batch_size=512, ema_decay=0.999,
                     model=dict(width=64, depth=2, fourier=6), eval_every=250, save_every=500),
    classifier_architecture="PointClassifier",
    classifier_preset=dict(steps=8_000, batch_size=512, lr=2e-3, warmup=200, ema_decay=0.999,
                           model=dict(width=128, depth=3, fourier=6), eval_every=250, save_every=1000))
