"""The Python API that the CLI and the app share: a loaded checkpoint that samples by class name.

    >>> s = GuidedSampler.load("points")          # or a folder, or a Hub repo id
    >>> traj = s.sample("spiral", guidance=2, steps=100, sampler="ddpm", n=1000, seed=0)
    >>> s.to_data(traj.samples).shape             # (1000, 2) float32 in [-1, 1]

Every input is checked by `diffusion.inputs` (ValueError naming the field, value and range).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from .core.sampling import Frame, Trajectory, sample, sample_frames
from .inputs import EXACT, SampleArgs, check_label, sample_args
from .models.checkpoint import Checkpoint, load_checkpoint
from .models.inference import prepare
from .worlds import World, get_world
from .worlds.labels import RANDOM, label_batch, label_choices


def checkpoint_source(world: World, source: str | None = None) -> str:
    """Explicit source, else $GDE_<WORLD>_CHECKPOINT (a folder or Hub repo id), else the shipped one."""
    return source or os.environ.get(f"GDE_{world.name.upper()}_CHECKPOINT") or str(world.checkpoint_dir)


@dataclass
class GuidedSampler:
    checkpoint: Checkpoint

    def __post_init__(self):
        prepare(self.checkpoint.model)  # inference form, in place: same outputs, faster

    @classmethod
    def load(cls, world, source: str | None = None) -> "GuidedSampler":
        world = get_world(world)
        ck = load_checkpoint(checkpoint_source(world, source), world.name)
        if ck.config.world != world.name:
            raise ValueError(f"checkpoint {ck.path} is a {ck.config.world!r} model, not {world.name!r}")
        return cls(ck)

    @property
    def world(self) -> World:
        return get_world(self.checkpoint.config.world)

    @property
    def labels(self) -> list[str]:
        """The label names this model knows, plus "random"."""
        return label_choices(self.checkpoint.config.labels)

    def check(self, label, guidance, steps, sampler, eta, n, seed) -> SampleArgs:
        """The checked, canonical inputs (ValueError naming the field otherwise)."""
        return sample_args(self.world, self.checkpoint.config.labels, label, guidance, steps, sampler,
                           eta, seed, n)

    def _run(self, label, guidance, steps, sampler, eta, n, seed) -> dict:
        names = self.checkpoint.config.labels
        if isinstance(label, (list, tuple)):  # one label per sample (evaluation): each checked
            a = self.check(RANDOM, guidance, steps, sampler, eta, n, seed)
            y = label_batch([check_label(v, names) for v in label], a.n, names)
        else:
            a = self.check(label, guidance, steps, sampler, eta, n, seed)
            y = label_batch(a.label, a.n, names)
        if a.steps > self.checkpoint.config.timesteps:
            raise ValueError(f"steps={a.steps} is not allowed; allowed: an integer in "
                             f"1..{self.checkpoint.config.timesteps} for this checkpoint")
        return dict(model=self.checkpoint.model, diffusion=self.checkpoint.diffusion, y=y,
                    shape=self.world.sample_shape, null_label=len(self.checkpoint.config.labels),
                    guidance=a.guidance, steps=a.steps, sampler=a.sampler, eta=a.eta,
                    generator=torch.Generator().manual_seed(a.seed))

    def frames(self, label, guidance: float = 1.0, steps: int = 100, sampler: str = "ddpm",
               eta: float = 0.0, n: int = 16, seed: int = 0) -> Iterator[Frame]:
        return sample_frames(**self._run(label, guidance, steps, sampler, eta, n, seed))

    def sample(self, label, guidance: float = 1.0, steps: int = 100, sampler: str = "ddpm",
               eta: float = 0.0, n: int = 16, seed: int = 0, keep_trajectory: bool = True) -> Trajectory:
        return sample(keep_trajectory=keep_trajectory, **self._run(label, guidance, steps, sampler, eta, n, seed))

    def exact(self, n: int, seed: int = 0) -> "GuidedSampler":
        """The same schedule and labels with the exact denoiser of n training examples per class in
        place of the network (`World.exact_model`; the pool is drawn with seed + 1, apart from the
        sampling noise): what a perfect model of those examples does."""
        n = EXACT.check(n)
        model = self.world.exact_model(n, self.checkpoint.diffusion.alphas_cumprod_f64, seed=seed + 1)
        return GuidedSampler(Checkpoint(model, self.checkpoint.config))

    def to_data(self, x: torch.Tensor) -> np.ndarray:
        """Model-space samples -> the world's public data format (float32)."""
        return self.world.to_data(x)
