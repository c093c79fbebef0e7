"""What is trained: a world's denoiser (`DiffusionTask`, any registered world; kind "<world>", or
"<world>-weak" for autoguidance's weak model), its noise-aware classifier (kind
"<world>-classifier", `classifier_task.ClassifierTask`) and the LeNet judge (`LenetTask`), as
`Task`s for `Trainer`.

A task gives the model, a deterministic batch for each step, the loss, a fixed validation batch,
the checkpoint's DiffusionConfig and its model card. The data comes from the world.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.schedules import band_density
from ..hub.card import training_card
from ..models.checkpoint import DiffusionConfig
from ..models.guidance_models import CLASSIFIER, WEAK, split_kind
from ..models.lenet import LeNet
from ..worlds.mnist_data import EpochBatches, mnist_splits
from .classifier_task import ClassifierTask
from .world_task import WorldTask

LENET = "lenet"


class DiffusionTask(WorldTask):
    """Denoising loss with label dropout, on the world's training data (`config.kind` names it)."""

    def __init__(self, config, data=None):
        super().__init__(config, data)
        if split_kind(config.kind)[1] == WEAK:
            self.title = f"{self.world.title}: weak denoiser for autoguidance"
            self.card_intro = ("A deliberately smaller and shorter-trained version of the world's denoiser, "
                               "with the same labels, noise schedule and label dropout: the weak model D_0 "
                               "of autoguidance (Karras et al. 2024), eps = eps_0 + s (eps - eps_0).")
        self.t_density = (torch.from_numpy(band_density(config.t_band, self.diffusion.num_steps))
                          if config.t_band else None)

    def make_model(self):
        return self.world.make_model(len(self.labels), **self.config.model)

    def diffusion_config(self) -> DiffusionConfig:
        c = self.config
        return DiffusionConfig(self.world.name, self.labels, self.world.architecture, c.schedule,
                               c.timesteps, c.p_uncond)

    def loss(self, model, batch, gen: torch.Generator, validation: bool = False) -> torch.Tensor:
        x0, y = batch
        p = 0.0 if validation else self.config.p_uncond
        n = 0 if validation else self.config.stf_reference  # validation keeps the plain, comparable target
        reference = self.data.reference(gen, n) if n else None
        return self.diffusion.training_loss(model, x0, y, len(self.labels), p, gen,
                                            self.config.min_snr_gamma, reference,
                                            None if validation else self.t_density)


class LenetTask:
    """Cross-entropy classification; validation is the held-out error, reported as a loss."""

    def __init__(self, config, splits=None):
        self.config = config
        self.train_split, self.val_split = splits or mnist_splits(config.seed)
        self.batches = EpochBatches(self.train_split, config.batch_size, config.seed)

    def make_model(self):
        return LeNet(**self.config.model)

    def batch(self, step: int, gen: torch.Generator):
        x, y = self.batches(step)
        # Small random shifts (up to 2 px) make the judge robust to off-centre generated digits.
        dx, dy = torch.randint(-2, 3, (2,), generator=gen).tolist()
        return torch.roll(x, (dy, dx), (2, 3)), y

    def loss(self, model, batch, gen, validation: bool = False):
        x, y = batch
        return F.cross_entropy(model(x), y)

    def validation_batch(self):
        return self.val_split.x, self.val_split.y

    def diffusion_config(self):
        return None

    def card(self, trainer) -> str:
        return training_card(self, trainer)


def make_task(config, data=None):
    """The task `config.kind` names: "lenet", a world's classifier, or a world's denoiser (strong or weak)."""
    if config.kind == LENET:
        return LenetTask(config)
    if split_kind(config.kind)[1] == CLASSIFIER:
        return ClassifierTask(config, data)
    return DiffusionTask(config, data)
