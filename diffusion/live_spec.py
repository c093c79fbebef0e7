"""What a visitor asks the Train tab for: a `LiveSpec`, checked (`validate`), and what it becomes
for the one training loop (`train_config`, `make_task`). Running it is `diffusion.live`'s job."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import torch

from .api import check_world
from .labels import DIGITS, WORLD_LABELS
from .trainer import TrainConfig

MNIST_SIZES = {"tiny": dict(channels=[8, 16, 32], emb_dim=32),  # ~64k parameters
               "small": dict(channels=[16, 32, 64], emb_dim=64)}  # ~250k
DEFAULTS = {"points": dict(width=128, max_seconds=60, steps=4000),
            "mnist": dict(width="tiny", max_seconds=180, steps=1000)}
JOB_LIMIT = 600  # seconds: the longest a job may hold the (only) training slot


def _check(name: str, value, lo, hi, kind=(int, float)) -> None:
    if isinstance(value, bool) or not isinstance(value, kind) or not lo <= value <= hi:
        raise ValueError(f"{name}={value!r} is out of range: allowed {lo!r}..{hi!r}")


@dataclass(frozen=True)
class LiveSpec:
    """What to train. None means the world's default (DEFAULTS; labels: all of the world's)."""
    world: str
    labels: tuple[str, ...] | list[str] | None = None  # points: POINT_LABELS; mnist: "0".."9"
    width: int | str | None = None  # points: MLP width 32..512; mnist: a MNIST_SIZES name
    lr: float = 2e-3
    p_uncond: float = 0.2
    max_seconds: float | None = None  # 10..JOB_LIMIT
    steps: int | None = None  # an upper bound on optimizer steps (also the lr schedule's length)
    seed: int = 0

    def validate(self) -> "LiveSpec":
        """The spec with defaults filled in and labels in canonical order; ValueError naming the
        bad value and the allowed range otherwise."""
        check_world(self.world)
        d = DEFAULTS[self.world]
        allowed = WORLD_LABELS[self.world]
        labels = allowed if self.labels is None else [str(v) for v in self.labels]
        bad = [v for v in labels if v not in allowed]
        if bad or not labels or len(set(labels)) != len(labels):
            raise ValueError(f"labels={list(labels)!r} are not allowed: give one or more distinct "
                             f"of {', '.join(allowed)}")
        width = d["width"] if self.width is None else self.width
        if self.world == "points":
            _check("width", width, 32, 512, int)
        elif width not in MNIST_SIZES:
            raise ValueError(f"unknown size {width!r} for mnist; allowed: {', '.join(MNIST_SIZES)}")
        _check("lr", self.lr, 1e-5, 1e-1)
        _check("p_uncond", self.p_uncond, 0, 1)
        max_seconds = d["max_seconds"] if self.max_seconds is None else self.max_seconds
        _check("max_seconds", max_seconds, 10, JOB_LIMIT)
        steps = d["steps"] if self.steps is None else self.steps
        _check("steps", steps, 1, 100_000, int)
        _check("seed", self.seed, 0, 2 ** 31 - 1, int)
        return dataclasses.replace(self, labels=tuple(v for v in allowed if v in labels), width=width,
                                   max_seconds=float(max_seconds), steps=steps)

    def train_config(self) -> TrainConfig:
        """The Trainer's config for a validated spec: eval by the clock, never saved mid-run."""
        model = dict(width=self.width, depth=3, fourier=6) if self.world == "points" else \
            dict(MNIST_SIZES[self.width], dropout=0.0)
        return TrainConfig(kind=self.world, out="", steps=self.steps, lr=self.lr, p_uncond=self.p_uncond,
                           batch_size=256 if self.world == "points" else 64,
                           warmup=min(100, self.steps // 10 + 1),
                           ema_decay=0.995, schedule="linear" if self.world == "points" else "cosine",
                           timesteps=1000, labels=list(self.labels), model=model, seed=self.seed,
                           eval_every=_NEVER)  # out="": never saved mid-run


_NEVER = 1 << 40  # a step count no job reaches: evaluation is due by the clock, see live.Job._eval_due


@lru_cache(maxsize=1)
def _mnist():
    """The train/validation split, loaded once per process (it takes seconds)."""
    from .tasks import mnist_splits
    return mnist_splits(0)


def make_task(spec: LiveSpec, config: TrainConfig):
    from .tasks import MnistTask, PointsTask
    if spec.world == "points":
        return PointsTask(config)

    def pick(split, limit=None):  # only the chosen digits, relabelled 0..k-1 in label order
        if spec.labels == DIGITS:  # all ten: nothing to relabel, and a view instead of a copy
            return type(split)(split.x[:limit], split.y[:limit])
        lookup = torch.full((10,), -1, dtype=torch.long)
        lookup[[int(d) for d in spec.labels]] = torch.arange(len(spec.labels))
        keep = (lookup[split.y] >= 0).nonzero().squeeze(1)[:limit]
        return type(split)(split.x[keep], lookup[split.y[keep]])

    train, val = _mnist()
    # 256 validation digits, not 1000: a live eval every two seconds must stay cheap.
    return MnistTask(config, (pick(train), pick(val, 256)))
