"""What every task trained on a world's data shares (the denoiser, its weak version, the noise-aware
classifier): the world named by the train kind, its labels and data, the noise schedule, batches."""
from __future__ import annotations

import torch

from ..core.gaussian import GaussianDiffusion
from ..hub.card import training_card
from ..models.guidance_models import split_kind
from ..worlds import get_world


class WorldTask:
    """config.kind is "<world>" or "<world>-<role>"; data defaults to the world's training data."""

    def __init__(self, config, data=None):
        self.config = config
        self.world = get_world(split_kind(config.kind)[0])
        self.labels = list(config.labels) or list(self.world.labels)
        self.data = data if data is not None else self.world.training_data(self.labels, config.seed)
        self.diffusion = GaussianDiffusion.from_schedule(config.schedule, config.timesteps)

    def batch(self, step: int, gen: torch.Generator):
        return self.data.batch(step, gen, self.config.batch_size)

    def validation_batch(self):
        return self.data.validation_batch()

    def card(self, trainer) -> str:
        return training_card(self, trainer)
