"""What is trained: the points and MNIST denoisers and the LeNet judge, as `Task`s for `Trainer`.

A task gives the model, a deterministic batch for each step, the loss, a fixed validation batch,
the checkpoint's DiffusionConfig and its model card.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .checkpoint import DiffusionConfig
from .gaussian import GaussianDiffusion
from .lenet import LeNet
from .mlp import PointDenoiser
from .points import POINT_LABELS, sample_points
from .unet import UNet

VAL_SIZE = 1000  # MNIST training digits held out for the validation loss


class DiffusionTask:
    """Denoising loss with label dropout; subclasses give the data and the model."""
    world = ""
    architecture = ""

    def __init__(self, config):
        self.config = config
        self.labels = list(config.labels)
        self.diffusion = GaussianDiffusion.from_schedule(config.schedule, config.timesteps)

    def diffusion_config(self) -> DiffusionConfig:
        c = self.config
        return DiffusionConfig(self.world, self.labels, self.architecture, c.schedule, c.timesteps, c.p_uncond)

    def loss(self, model, batch, gen: torch.Generator, validation: bool = False) -> torch.Tensor:
        x0, y = batch
        p = 0.0 if validation else self.config.p_uncond
        return self.diffusion.training_loss(model, x0, y, len(self.labels), p, gen,
                                            self.config.min_snr_gamma)

    def card(self, trainer) -> str:
        from .card import training_card
        return training_card(self, trainer)


class PointsTask(DiffusionTask):
    world, architecture = "points", "PointDenoiser"

    def __init__(self, config):
        super().__init__(config)
        unknown = set(self.labels) - set(POINT_LABELS)
        if not self.labels or unknown:
            raise ValueError(f"unknown datasets {sorted(unknown)}; allowed: {', '.join(POINT_LABELS)}")

    def make_model(self):
        return PointDenoiser(num_classes=len(self.labels), **self.config.model)

    def batch(self, step: int, gen: torch.Generator):
        y = torch.randint(0, len(self.labels), (self.config.batch_size,), generator=gen)
        return sample_points(y, tuple(self.labels), gen), y

    def validation_batch(self):
        gen = torch.Generator().manual_seed(10_000 + self.config.seed)
        y = torch.arange(4096) % len(self.labels)
        return sample_points(y, tuple(self.labels), gen), y


@dataclass
class _Split:
    x: torch.Tensor
    y: torch.Tensor


def mnist_splits(seed: int):
    """(train, validation): the 60k training digits less VAL_SIZE held out by a seeded shuffle."""
    from .data import load_mnist
    x, y = load_mnist("train")
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    val, train = perm[:VAL_SIZE], perm[VAL_SIZE:]
    return _Split(x[train], y[train]), _Split(x[val], y[val])


class _EpochBatches:
    """Step k's batch: a slice of epoch k // steps_per_epoch's seeded permutation."""

    def __init__(self, split: _Split, batch_size: int, seed: int):
        self.split, self.batch_size, self.seed = split, batch_size, seed
        self.per_epoch = len(split.y) // batch_size
        self._epoch, self._perm = -1, None

    def __call__(self, step: int):
        epoch, k = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(len(self.split.y), generator=gen)
        idx = self._perm[k * self.batch_size:(k + 1) * self.batch_size]
        return self.split.x[idx], self.split.y[idx]


class MnistTask(DiffusionTask):
    world, architecture = "mnist", "UNet"

    def __init__(self, config, splits=None):
        super().__init__(config)
        self.train_split, self.val_split = splits or mnist_splits(config.seed)
        self.batches = _EpochBatches(self.train_split, config.batch_size, config.seed)

    def make_model(self):
        return UNet(num_classes=len(self.labels), **self.config.model)

    def batch(self, step: int, gen: torch.Generator):
        return self.batches(step)

    def validation_batch(self):
        return self.val_split.x, self.val_split.y


class LenetTask:
    """Cross-entropy classification; validation is the held-out error, reported as a loss."""

    def __init__(self, config, splits=None):
        self.config = config
        self.train_split, self.val_split = splits or mnist_splits(config.seed)
        self.batches = _EpochBatches(self.train_split, config.batch_size, config.seed)

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
        from .card import training_card
        return training_card(self, trainer)
