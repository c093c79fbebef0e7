"""The recipes of `python -m diffusion.train KIND`: each world's own (`World.train_preset`) and the
LeNet judge's. Sized for a 2-core CPU: points in a few minutes, LeNet in a few minutes, MNIST in
one to two hours."""
from __future__ import annotations

from ..worlds import get_world, world_names
from .tasks import LENET

LENET_PRESET = dict(steps=2_500, batch_size=128, lr=2e-3, warmup=100, ema_decay=0.995, weight_decay=1e-4,
                    model=dict(channels=[32, 64], hidden=256, feature_dim=128, dropout=0.3),
                    eval_every=250, save_every=500)


def kinds() -> list[str]:
    return [*world_names(), LENET]


def preset(kind: str) -> dict:
    """A copy of the preset's TrainConfig fields (ValueError naming the kinds for an unknown one)."""
    return dict(LENET_PRESET if kind == LENET else get_world(kind).train_preset)
