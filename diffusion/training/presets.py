"""The recipes of `python -m diffusion.train KIND`: each world's own (`World.train_preset`), its
weak denoiser for autoguidance ("<world>-weak": `World.weak_preset` over the world's preset), its
noise-aware classifier ("<world>-classifier": `World.classifier_preset`, with the schedule of the
shipped denoiser) and the LeNet judge's. Sized for a 2-core CPU: points in about half an hour, LeNet
in a few minutes, MNIST in one to two hours, the weak models and classifiers in minutes."""
from __future__ import annotations

import json
from pathlib import Path

from ..models.checkpoint import CHECKPOINTS
from ..models.guidance_models import CLASSIFIER, WEAK, role_dir, role_kind, split_kind
from ..worlds import get_world, world_names
from .tasks import LENET

LENET_PRESET = dict(steps=2_500, batch_size=128, lr=2e-3, warmup=100, ema_decay=0.995, weight_decay=1e-4,
                    model=dict(channels=[32, 64], hidden=256, feature_dim=128, dropout=0.3),
                    eval_every=250, save_every=500)


def kinds() -> list[str]:
    """Every world's denoiser, then the weak models and classifiers of the worlds that define them."""
    names = world_names()
    return [*names, LENET, *(role_kind(n, WEAK) for n in names if get_world(n).weak_preset),
            *(role_kind(n, CLASSIFIER) for n in names if get_world(n).classifier_preset)]


def shipped_schedule(world) -> dict:
    """schedule, timesteps and labels of the world's shipped denoiser (its diffusion.json), or of its
    training preset if none is shipped: a classifier's t must mean what the denoiser's t means."""
    path = world.checkpoint_dir / "diffusion.json"
    source = json.loads(path.read_text()) if path.is_file() else world.train_preset
    return {k: source[k] for k in ("schedule", "timesteps", "labels") if k in source}


def preset(kind: str) -> dict:
    """A copy of the preset's TrainConfig fields (ValueError naming the kinds for an unknown one)."""
    if kind == LENET:
        return dict(LENET_PRESET)
    name, role = split_kind(kind)
    world = get_world(name)
    if role == WEAK and world.weak_preset:
        return {**world.train_preset, **world.weak_preset}
    if role == CLASSIFIER and world.classifier_preset:
        return {**world.classifier_preset, **shipped_schedule(world), "p_uncond": 0.0}
    if role:
        raise ValueError(f"kind={kind!r} is not allowed; allowed: {', '.join(kinds())}")
    return dict(world.train_preset)


def default_out(kind: str) -> Path:
    """Where a kind's model is shipped: checkpoints/KIND, or checkpoints/<world>_<role> for a weak
    model or classifier (`models.guidance_models.role_dir`)."""
    name, role = split_kind(kind)
    return role_dir(name, role) if role else CHECKPOINTS / kind
