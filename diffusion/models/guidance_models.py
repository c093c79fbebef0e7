"""The shipped models that two guidance methods need: a weak denoiser (autoguidance) and a
noise-aware classifier (classifier guidance), per world. STUB: nothing is shipped yet; the real
loader replaces this file."""
from __future__ import annotations

from .checkpoint import CheckpointError


def load_weak_model(world_name: str):
    """The world's shipped weak denoiser, ready in eval mode; CheckpointError if none is shipped."""
    raise CheckpointError(f"no weak model checkpoint shipped for {world_name} yet (autoguidance)")


def load_classifier(world_name: str):
    """The world's shipped noise-aware classifier(x_t, t) -> logits, in eval mode; CheckpointError
    if none is shipped."""
    raise CheckpointError(f"no noise-aware classifier checkpoint shipped for {world_name} yet (classifier guidance)")
