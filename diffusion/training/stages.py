"""A job's EMA snapshots (`jobs.JobSnapshot.stages`) as samples: how the guided samples of a model
change as training goes on, each stage from the same noise.

    >>> stages = stage_samples(snap.checkpoint, snap.stages, guidance=2.0)
    >>> [(step, x.shape, y.shape) for step, x, y in stages]   # [(120, (600, 2), (600,)), ...]
"""
from __future__ import annotations

import copy

import numpy as np

from ..guided_sampler import GuidedSampler
from ..models.checkpoint import Checkpoint


def class_labels(names, n: int) -> list[str]:
    """n labels taking the classes in turn: every class equally, in one run."""
    return [names[i % len(names)] for i in range(n)]


def run_labels(s: GuidedSampler, n: int, guidance: float, steps: int, seed: int):
    """(samples (n, 2) float32, label indices (n,)) of one run over every class in turn."""
    names = s.checkpoint.config.labels
    x = s.sample(class_labels(names, n), guidance, steps, s.world.sampling["sampler"], n=n, seed=seed,
                 keep_trajectory=False).samples
    return s.to_data(x), np.arange(n) % len(names)


def stage_samples(checkpoint: Checkpoint, stages, guidance: float = 2.0, n: int = 600, steps: int | None = None,
                  seed: int = 0) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(step, samples, label indices) per stage: the checkpoint's model with each stage's weights,
    sampled with the world's sampler at `guidance`, every class in turn, the same seed."""
    out = []
    for step, state in stages:
        model = copy.deepcopy(checkpoint.model)
        model.load_state_dict(state)
        s = GuidedSampler(Checkpoint(model, checkpoint.config))
        x, y = run_labels(s, n, guidance, steps or s.world.sampling["steps"], seed)
        out.append((step, x, y))
    return out
