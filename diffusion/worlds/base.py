"""`World`: everything the rest of the code needs to know about one kind of data, in one object.

A world owns its class names, its sample shape, the one conversion between the network's tensors
(x in [-1, 1]) and its public data format, its defaults for sampling, comparing and training,
its model factory and training data, how its samples are drawn, and its quality measures.
Everything else asks the registry (`diffusion.worlds.get_world`) instead of branching on a name.

The defaults here suit vector data (rows of coordinates): a new world of points only gives its
names, data and sizes; an image world overrides the conversions and the drawing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from ..core.metrics import spread
from ..core.sampling import stochastic
from ..drawing import pictures, plots
from ..models.checkpoint import ARCHITECTURES, CHECKPOINTS
from ..models.guidance_models import CLASSIFIER, WEAK, role_dir


class TrainingData(Protocol):
    """What the trainer draws from: a deterministic batch per step and a fixed validation batch."""

    def batch(self, step: int, gen: torch.Generator, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]: ...

    def validation_batch(self) -> tuple[torch.Tensor, torch.Tensor]: ...

    def reference(self, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n random training examples and labels, drawn from `gen` (the Stable Target Field's reference)."""
        ...


@dataclass(frozen=True)
class Sizes:
    """How much work a request of this world may be: samples per run, and the defaults."""
    max_n: int  # samples per run, everywhere (sliders, API, CLI)
    default_n: int
    compare_n: int  # samples per guidance scale in the comparison
    # The app's cost budget (`diffusion.budget`): what one sample costs per guided step (two network
    # rows), in units of one MNIST digit's guided step; the methods that cost more than cfg and the
    # exact reference's factor (measured with the 2D model: width 128, depth 3; 13, 28 and 89 us a
    # point-step for cfg, classifier and exact). The points' step_cost: `python -m diffusion.bench`,
    # 4.9 us a point-step (points_1000x100_cfg_s) against 4.4 ms a digit-step of the 282-MFLOP
    # U-Net (mnist_10x100_cfg_s). `admit_n`: the samples a request at the default steps may
    # always have (default: default_n).
    step_cost: float = 0.0011
    method_cost: tuple[tuple[str, float], ...] = (("autoguidance", 1.2), ("classifier", 2.2))
    exact_cost: float = 7.0
    admit_n: int = 0

    def __post_init__(self):
        if not self.admit_n:
            object.__setattr__(self, "admit_n", self.default_n)


@dataclass(frozen=True)
class World:
    name: str
    title: str  # the app's tab title
    noun: str  # what the samples are called, plural: points, digits
    labels: tuple[str, ...]  # class names in embedding-index order; "random" is added after them
    sample_shape: tuple[int, ...]
    architecture: str  # the denoiser class (models.checkpoint.ARCHITECTURES)
    sizes: Sizes
    default_label: str
    sampling: dict = field(default_factory=lambda: dict(steps=100, sampler="ddpm"))  # the app's defaults
    compare: dict = field(default_factory=lambda: dict(steps=100, sampler="ddpm"))  # the comparison's sampler
    preview: dict = field(default_factory=lambda: dict(n=500, steps=25))  # live training's samples
    train_preset: dict = field(default_factory=dict)  # TrainConfig fields of `python -m diffusion.train`
    live: dict = field(default_factory=dict)  # the Train tab's defaults: max_seconds, steps, batch_size, size
    examples: tuple = ()  # the app's example rows: label, guidance, steps, sampler, seed, n
    metric_names: tuple[str, str] = ("spread", "spread")  # the comparison's two measures (keys of `measure`)
    has_field: bool = False  # whether the app can draw the direction field (2D data)
    # The comparison's frontier plot: (x, y) keys of `measure`, and the one sentence under it.
    frontier: tuple[str, str] = ("spread", "spread")
    frontier_note: str = ""
    # measure key -> (what it means, which way is better: "lower", "higher" or "" for neither), for
    # the comparison's caption (`app.compare.caption`)
    measure_notes: dict = field(default_factory=lambda: {"spread": ("mean distance from the centroid", "")})
    exact_pool: int = 1000  # examples per class of the app's exact reference denoiser
    checkpoint: str | None = None  # the shipped checkpoint's folder (default: checkpoints/NAME)
    # Autoguidance's weak denoiser ("NAME-weak"): TrainConfig fields laid over `train_preset`, so
    # that schedule, labels and label dropout stay the strong model's; only size and length change.
    weak_preset: dict = field(default_factory=dict)
    # Classifier guidance's noise-aware classifier ("NAME-classifier"): its class and TrainConfig
    # fields (the schedule is read from the shipped denoiser's diffusion.json when training).
    classifier_architecture: str | None = None
    classifier_preset: dict = field(default_factory=dict)

    # -- checkpoints and models ----------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        """The shipped checkpoint's folder."""
        return Path(self.checkpoint) if self.checkpoint else CHECKPOINTS / self.name

    @property
    def weak_dir(self) -> Path:
        """The shipped weak denoiser's folder (autoguidance)."""
        return role_dir(self.name, WEAK)

    @property
    def classifier_dir(self) -> Path:
        """The shipped noise-aware classifier's folder (classifier guidance)."""
        return role_dir(self.name, CLASSIFIER)

    def spacing_for(self, sampler: str, eta: float = 0.0) -> str:
        """How this world's runs of `sampler` space their timesteps (`core.schedules.SPACINGS`):
        `sampling["spacing"]`, or for a stochastic run `sampling["stochastic_spacing"]` if set."""
        default = self.sampling.get("spacing", "uniform")
        return self.sampling.get("stochastic_spacing", default) if stochastic(sampler, eta) else default

    @property
    def spacing_text(self) -> str:
        """The spacing rule in words, for tables' notes."""
        default, noisy = self.spacing_for("ddim"), self.spacing_for("ddpm")
        return default if default == noisy else f"{default}; stochastic samplers: {noisy}"

    def make_model(self, num_classes: int, **config) -> torch.nn.Module:
        return ARCHITECTURES[self.architecture](num_classes=num_classes, **config)

    def make_classifier(self, num_classes: int, **config) -> torch.nn.Module:
        if self.classifier_architecture is None:
            raise NotImplementedError(f"the {self.name} world has no noise-aware classifier")
        return ARCHITECTURES[self.classifier_architecture](num_classes=num_classes, **config)

    def live_model(self, size) -> dict:
        """The model config of the Train tab's size choice (ValueError for a bad one)."""
        return dict(size)

    def training_data(self, labels: list[str], seed: int, validation: int | None = None) -> TrainingData:
        raise NotImplementedError(f"the {self.name} world has no training data")

    def held_out(self, n_per_class: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Examples (n_per_class per class, network space) and labels (indices into `labels`)
        never seen in training: what a classifier's accuracy is measured on."""
        raise NotImplementedError(f"the {self.name} world has no held-out data")

    def exact_model(self, n: int, alphas_cumprod, seed: int = 1) -> torch.nn.Module:
        """The exact denoiser (`models.exact.ExactDenoiser`) of n training examples per class."""
        raise NotImplementedError(f"the {self.name} world has no exact denoiser")

    # -- the one conversion ----------------------------------------------------------------------
    def to_data(self, x: torch.Tensor) -> np.ndarray:
        """Network samples (n, *sample_shape) -> the public data format (float32)."""
        return x.detach().numpy().astype(np.float32, copy=True)

    def from_data(self, data: np.ndarray) -> torch.Tensor:
        """The public data format -> the network's tensors in [-1, 1]."""
        return torch.as_tensor(np.asarray(data, np.float32)).reshape(-1, *self.sample_shape)

    def display(self, data: np.ndarray) -> np.ndarray:
        """Public data -> the form the app stores for every frame (may be smaller, e.g. uint8)."""
        return data

    # -- pictures ------------------------------------------------------------------------------
    def panel(self, shown: np.ndarray, small: bool = False) -> np.ndarray:
        """Stored frames (`display` form) of one step -> an RGB panel."""
        return pictures.points_panel(shown[:, :2], 240 if small else pictures.PANEL)

    def final_image(self, samples: np.ndarray, title: str = "") -> np.ndarray:
        """The final samples (public data) as a picture for downloads and the CLI."""
        return plots.scatter_png(samples[:, :2], title, size=4.5)

    def comparison_panel(self, samples: np.ndarray, guidance: float, measured: dict) -> np.ndarray:
        a, b = self.metric_names
        img = pictures.points_panel(self.display(samples)[:, :2], size=220)
        return pictures.caption(img, f"s = {guidance:g}  {a} {measured[a]:.3f}")

    # -- quality -------------------------------------------------------------------------------
    def measure(self, label: str, samples: np.ndarray) -> dict:
        """The comparison's measures of final samples (public data) asked for `label`."""
        return {"spread": spread(samples)}

    def metric_headers(self, label: str) -> list[str]:
        return list(self.metric_names)
