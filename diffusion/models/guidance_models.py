"""The second models that two guidance methods need, shipped per world:

    >>> weak = load_weak_model(POINTS.name)        # autoguidance: weak(x_t, t, y) -> eps
    >>> clf = load_classifier(MNIST.name)          # classifier guidance: clf(x_t, t) -> logits

Each is loaded once per process (strictly, from config.json + model.safetensors), in its
inference form (`inference.prepare`: eval mode, no parameter gradients; a classifier still passes
gradients to its input x_t, which is what classifier guidance takes). A world without one raises
`CheckpointError` saying which folder is missing and how to train it.

The folders are derived from the world's name here and nowhere else:
checkpoints/<world>_weak and checkpoints/<world>_classifier; the train kinds that make them are
"<world>-weak" and "<world>-classifier" (`python -m diffusion.train`).
"""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from torch import nn

from .checkpoint import CHECKPOINTS, Checkpoint, CheckpointError, load_checkpoint
from .inference import prepare

WEAK, CLASSIFIER = "weak", "classifier"  # the roles: folder suffix "_weak", train kind suffix "-weak"
ROLES = (WEAK, CLASSIFIER)
_lock = threading.Lock()


def role_dir(world_name: str, role: str) -> Path:
    """checkpoints/<world>_<role>: the shipped weak model's or classifier's folder."""
    if role not in ROLES:
        raise ValueError(f"role={role!r} is not allowed; allowed: {', '.join(ROLES)}")
    return CHECKPOINTS / f"{world_name}_{role}"


def role_kind(world_name: str, role: str) -> str:
    """The train kind that makes it: "<world>-<role>"."""
    return f"{world_name}-{role}"


def split_kind(kind: str) -> tuple[str, str]:
    """A train kind -> (world name, role): "mnist" -> ("mnist", ""), "mnist-weak" -> ("mnist", "weak"),
    "points-classifier" -> ("points", "classifier"). The world name is not checked here."""
    for role in ROLES:
        if kind.endswith("-" + role):
            return kind[:-len(role) - 1], role
    return kind, ""


def weak_dir(world_name: str) -> Path:
    return role_dir(world_name, WEAK)


def classifier_dir(world_name: str) -> Path:
    return role_dir(world_name, CLASSIFIER)


def load_role_checkpoint(world_name: str, role: str, folder: str | Path | None = None) -> Checkpoint:
    """The checkpoint (model, DiffusionConfig, history) of a world's weak model or classifier,
    from `folder` or the shipped one; CheckpointError if it is missing, malformed, or made for
    another world."""
    folder = Path(folder) if folder is not None else role_dir(world_name, role)
    if not folder.is_dir():
        raise CheckpointError(f"the world {world_name!r} has no shipped {role} model: {folder} does not "
                              f"exist. Train one with `python -m diffusion.train {role_kind(world_name, role)} "
                              f"--out {folder}`.")
    ck = load_checkpoint(folder, role_kind(world_name, role))
    if ck.config.world != world_name:
        raise CheckpointError(f"{folder} holds a {ck.config.world!r} model, not a {world_name!r} one")
    return ck


@lru_cache(maxsize=None)
def _load(world_name: str, role: str) -> nn.Module:
    return prepare(load_role_checkpoint(world_name, role).model)


def _name(world) -> str:
    return str(getattr(world, "name", world))  # a World object passes too


def load_weak_model(world_name: str) -> nn.Module:
    """The world's weak denoiser for autoguidance, `model(x_t, t, y) -> eps` with the same labels,
    null label and schedule as the world's shipped denoiser; eval mode, cached."""
    with _lock:
        return _load(_name(world_name), WEAK)


def load_classifier(world_name: str) -> nn.Module:
    """The world's noise-aware classifier, `classifier(x_t, t) -> logits` (B, C) over the world's
    real classes, t the denoiser's timestep; eval mode, cached, differentiable w.r.t. x_t."""
    with _lock:
        return _load(_name(world_name), CLASSIFIER)
