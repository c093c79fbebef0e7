"""The Python API that the CLI and the app share: a loaded checkpoint that samples by class name.

    >>> s = GuidedSampler.load("points")          # or a folder, or a Hub repo id
    >>> traj = s.sample("spiral", guidance=2, steps=100, sampler="ddpm", n=1000, seed=0)
    >>> s.to_data(traj.samples).shape             # (1000, 2) float32 in [-1, 1]
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from .checkpoint import Checkpoint, load_checkpoint, default_checkpoint
from .fast import prepare
from .labels import label_batch, label_choices
from .sampling import Frame, Trajectory, check_sampling_args, sample, sample_frames

WORLDS = ("points", "mnist")
MAX_N = {"points": 10_000, "mnist": 1_000}
SHAPES = {"points": (2,), "mnist": (1, 28, 28)}


def check_world(world: str) -> str:
    if world not in WORLDS:
        raise ValueError(f"unknown world {world!r}; allowed: {', '.join(WORLDS)}")
    return world


def checkpoint_source(world: str, source: str | None = None) -> str:
    """Explicit source, else $GDE_<WORLD>_CHECKPOINT (a folder or Hub repo id), else the shipped one."""
    return source or os.environ.get(f"GDE_{world.upper()}_CHECKPOINT") or str(default_checkpoint(world))


@dataclass
class GuidedSampler:
    checkpoint: Checkpoint

    def __post_init__(self):
        prepare(self.checkpoint.model)  # inference form, in place: same outputs, faster (diffusion.fast)

    @classmethod
    def load(cls, world: str, source: str | None = None) -> "GuidedSampler":
        ck = load_checkpoint(checkpoint_source(check_world(world), source), world)
        if ck.config.world != world:
            raise ValueError(f"checkpoint {ck.path} is a {ck.config.world!r} model, not {world!r}")
        return cls(ck)

    @property
    def world(self) -> str:
        return self.checkpoint.config.world

    @property
    def labels(self) -> list[str]:
        """The label names this model knows, plus "random"."""
        return label_choices(self.checkpoint.config.labels)

    @property
    def max_steps(self) -> int:
        return self.checkpoint.config.timesteps

    def _args(self, label, guidance, steps, sampler, eta, n, seed) -> dict:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N[self.world]:
            raise ValueError(f"n={n!r} is out of range: allowed 1..{MAX_N[self.world]}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 63:
            raise ValueError(f"seed={seed!r} is out of range: allowed 0..2^63-1")
        check_sampling_args(steps, self.max_steps, guidance, sampler, eta)
        y = label_batch(label, n, self.checkpoint.config.labels)
        return dict(model=self.checkpoint.model, diffusion=self.checkpoint.diffusion, y=y,
                    shape=SHAPES[self.world], null_label=len(self.checkpoint.config.labels),
                    guidance=float(guidance), steps=steps, sampler=sampler, eta=float(eta),
                    generator=torch.Generator().manual_seed(seed))

    def frames(self, label, guidance: float = 1.0, steps: int = 100, sampler: str = "ddpm",
               eta: float = 0.0, n: int = 16, seed: int = 0) -> Iterator[Frame]:
        return sample_frames(**self._args(label, guidance, steps, sampler, eta, n, seed))

    def sample(self, label, guidance: float = 1.0, steps: int = 100, sampler: str = "ddpm",
               eta: float = 0.0, n: int = 16, seed: int = 0, keep_trajectory: bool = True) -> Trajectory:
        return sample(keep_trajectory=keep_trajectory, **self._args(label, guidance, steps, sampler, eta, n, seed))

    def to_data(self, x: torch.Tensor) -> np.ndarray:
        """Model-space samples -> the public data format: points (n, 2) in [-1, 1];
        digits (n, 28, 28) in [0, 1]. float32."""
        if self.world == "points":
            return x.numpy().astype(np.float32)
        return ((x[:, 0].clamp(-1, 1) + 1) / 2).numpy().astype(np.float32)
