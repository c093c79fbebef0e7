"""What a visitor asks the Train tab for: a `LiveSpec`, checked (`validate`), and what it becomes
for the one training loop (`train_config`, `make_live_task`). Running it is `training.jobs`' job."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..core.checks import invalid
from ..inputs import SEED, Param, check_world
from ..worlds.points_drawn import DrawnTraining
from .tasks import DiffusionTask
from .trainer import TrainConfig

JOB_LIMIT = 600  # seconds: the longest a job may hold the (only) training slot
LR = Param("lr", float, 1e-5, 1e-1, help="learning rate")
P_UNCOND = Param("p_uncond", float, 0.0, 1.0, help="label dropout")
MAX_SECONDS = Param("max_seconds", float, 10, JOB_LIMIT, help="time budget (s)")
JOB_STEPS = Param("steps", int, 1, 100_000, help="an upper bound on optimizer steps")
LIVE_VALIDATION = 256  # held-out examples: a live eval every two seconds must stay cheap
_NEVER = 1 << 40  # a step count no job reaches: evaluation is due by the clock (jobs.Job._eval_due)


@dataclass(frozen=True)
class LiveSpec:
    """What to train. None means the world's default (`World.live`; labels: all of the world's)."""
    world: str
    labels: tuple[str, ...] | list[str] | None = None
    width: int | str | None = None  # the model size: points an MLP width, mnist a size name
    lr: float = 2e-3
    p_uncond: float = 0.2
    max_seconds: float | None = None
    steps: int | None = None  # an upper bound on optimizer steps (also the lr schedule's length)
    seed: int = 0
    # A drawn data set (`worlds.points_drawn.Drawing`) to train on instead of the world's data: its class
    # names are the labels (points world only).
    data: Any = dataclasses.field(default=None, compare=False)

    def validate(self) -> "LiveSpec":
        """The spec with defaults filled in and labels in canonical order; ValueError naming the
        bad value and the allowed range otherwise."""
        world = check_world(self.world)
        d = world.live
        allowed = world.labels if self.data is None else self.data.names
        if self.data is not None and not world.has_field:
            raise invalid("world", world.name, "points (a drawing is 2D data)")
        labels = allowed if self.labels is None or self.data is not None else [str(v) for v in self.labels]
        if not labels or len(set(labels)) != len(labels) or any(v not in allowed for v in labels):
            raise invalid("labels", list(labels), f"one or more distinct of {', '.join(allowed)}")
        width = d["size"] if self.width is None else self.width
        world.live_model(width)  # checks it
        return dataclasses.replace(
            self, world=world.name, labels=tuple(v for v in allowed if v in labels), width=width,
            lr=LR.check(self.lr), p_uncond=P_UNCOND.check(self.p_uncond),
            max_seconds=MAX_SECONDS.check(d["max_seconds"] if self.max_seconds is None else self.max_seconds),
            steps=JOB_STEPS.check(d["steps"] if self.steps is None else self.steps), seed=SEED.check(self.seed))

    def train_config(self) -> TrainConfig:
        """The Trainer's config for a validated spec: eval by the clock, never saved mid-run."""
        world = check_world(self.world)
        return TrainConfig(kind=world.name, out="", steps=self.steps, lr=self.lr, p_uncond=self.p_uncond,
                           batch_size=world.live["batch_size"], warmup=min(100, self.steps // 10 + 1),
                           ema_decay=0.995, schedule=world.live["schedule"], timesteps=1000,
                           labels=list(self.labels), model=world.live_model(self.width), seed=self.seed,
                           eval_every=_NEVER)  # out="": never saved mid-run


def make_live_task(spec: LiveSpec, config: TrainConfig) -> DiffusionTask:
    """The task of a validated spec: the world's data for the chosen labels (data seed 0, so that
    every job of a process shares one loaded copy), a small held-out batch."""
    world = check_world(spec.world)
    if spec.data is not None:
        return DiffusionTask(config, DrawnTraining(spec.data))
    return DiffusionTask(config, world.training_data(list(spec.labels), 0, LIVE_VALIDATION))
