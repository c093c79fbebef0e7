"""The Python API that the CLI and the app share: a loaded checkpoint that samples by class name.

    >>> s = GuidedSampler.load("points")          # or a folder, or a Hub repo id
    >>> traj = s.sample("spiral", guidance=2, steps=100, sampler="ddpm", n=1000, seed=0)
    >>> s.to_data(traj.samples).shape             # (1000, 2) float32 in [-1, 1]
    >>> s.sample("spiral", 2, method="rescale", phi=0.5)   # another guidance method, its parameters

Every input is checked by `diffusion.inputs` (ValueError naming the field, value and range).
Guidance methods (`core.guidance.METHODS`, default "cfg") take their parameters by public name
(`inputs.METHOD_PARAMS`: phi, apg_eta, ...). The models two methods need are loaded lazily, once:
autoguidance's weak denoiser and classifier guidance's noise-aware classifier are the world's
shipped ones (`models.guidance_models`); pass `weak_model=` / `classifier=` to use others. On the
exact reference (`exact`), classifier guidance uses the exact classifier of the same pool (which
makes it exact CFG at the same scale), and autoguidance's weak model is the exact denoiser of a
quarter of that pool (the first quarter of each class: a worse estimate of the same data).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from .core.guidance import PARAMS, Guider, make_guider
from .core.sampling import Frame, Trajectory, sample, sample_frames
from .inputs import EXACT, SPACING, SampleArgs, check_label, sample_args
from .models.checkpoint import Checkpoint, DiffusionConfig, load_checkpoint
from .models.exact import ExactClassifier, ExactDenoiser
from .models.guidance_models import load_classifier, load_weak_model
from .models.inference import prepare
from .worlds import World, get_world
from .worlds.points_drawn import exact_denoiser
from .worlds.labels import RANDOM, label_batch, label_choices


def checkpoint_source(world: World, source: str | None = None) -> str:
    """Explicit source, else $GDE_<WORLD>_CHECKPOINT (a folder or Hub repo id), else the shipped one."""
    return source or os.environ.get(f"GDE_{world.name.upper()}_CHECKPOINT") or str(world.checkpoint_dir)


@dataclass
class GuidedSampler:
    checkpoint: Checkpoint
    # The guidance models of this sampler by parameter name (weak_model, classifier), once loaded.
    helpers: dict = field(default_factory=dict, repr=False)
    # How every run picks its timesteps (`core.schedules.SPACINGS`); None: the world's (`World.sampling`).
    spacing: str | None = None
    # The drawn data set (`worlds.points_drawn.Drawing`) this model was made from or trained on, if any:
    # the comparison measures against it.
    data: Any = field(default=None, repr=False)

    def __post_init__(self):
        prepare(self.checkpoint.model)  # inference form, in place: same outputs, faster

    @classmethod
    def load(cls, world, source: str | None = None) -> "GuidedSampler":
        world = get_world(world)
        ck = load_checkpoint(checkpoint_source(world, source), world.name)
        if ck.config.world != world.name:
            raise ValueError(f"checkpoint {ck.path} is a {ck.config.world!r} model, not {world.name!r}")
        return cls(ck)

    @property
    def world(self) -> World:
        return get_world(self.checkpoint.config.world)

    @property
    def labels(self) -> list[str]:
        """The label names this model knows, plus "random"."""
        return label_choices(self.checkpoint.config.labels)

    def check(self, label, guidance, steps, sampler, eta, n, seed, method="cfg", method_params=None,
              strict: bool = True) -> SampleArgs:
        """The checked, canonical inputs (ValueError naming the field otherwise)."""
        return sample_args(self.world, self.checkpoint.config.labels, label, guidance, steps, sampler,
                           eta, seed, n, method, method_params, strict)

    def guider(self, method: str = "cfg", params=(), **models) -> Guider:
        """The core guider of a checked method and its parameters ((core name, value) pairs, as in
        `SampleArgs.method_params`), with the models it needs: those given (weak_model=,
        classifier=), else this sampler's own, loaded once (see the module's docstring)."""
        needs = [k for k, p in PARAMS[method].items() if p.kind == "model"]
        given = {k: models[k] if models.get(k) is not None else self.helper(k) for k in needs}
        return make_guider(method, **dict(params), **given)

    def helper(self, name: str):
        """The model a method needs, by its parameter name: "weak_model" or "classifier"."""
        if name not in self.helpers:
            model = self.checkpoint.model
            if isinstance(model, ExactDenoiser):
                self.helpers[name] = ExactClassifier(model) if name == "classifier" else smaller_pool(model)
            else:
                load = load_classifier if name == "classifier" else load_weak_model
                self.helpers[name] = load(self.world.name)
        return self.helpers[name]

    def spacing_for(self, sampler: str, eta: float = 0.0) -> str:
        """The spacing of a run of `sampler`: this GuidedSampler's, else the world's
        (`World.spacing_for`)."""
        return SPACING.check(self.spacing or self.world.spacing_for(sampler, eta))

    def _run(self, label, guidance, steps, sampler, eta, n, seed, method="cfg", params=None) -> dict:
        names = self.checkpoint.config.labels
        params = dict(params or {})
        models = {k: params.pop(k) for k in ("weak_model", "classifier") if k in params}
        if isinstance(label, (list, tuple)):  # one label per sample (evaluation): each checked
            a = self.check(RANDOM, guidance, steps, sampler, eta, n, seed, method, params)
            y = label_batch([check_label(v, names) for v in label], a.n, names)
        else:
            a = self.check(label, guidance, steps, sampler, eta, n, seed, method, params)
            y = label_batch(a.label, a.n, names)
        if a.steps > self.checkpoint.config.timesteps:
            raise ValueError(f"steps={a.steps} is not allowed; allowed: an integer in "
                             f"1..{self.checkpoint.config.timesteps} for this checkpoint")
        return dict(model=self.checkpoint.model, diffusion=self.checkpoint.diffusion, y=y,
                    shape=self.world.sample_shape, null_label=len(self.checkpoint.config.labels),
                    guidance=a.guidance, steps=a.steps, sampler=a.sampler, eta=a.eta,
                    generator=torch.Generator().manual_seed(a.seed), spacing=self.spacing_for(a.sampler, a.eta),
                    # cfg goes in by name: the loop's default path, bit for bit as before the methods
                    method="cfg" if a.method == "cfg" else self.guider(a.method, a.method_params, **models))

    def frames(self, label, guidance: float = 1.0, steps: int = 100, sampler: str = "ddpm",
               eta: float = 0.0, n: int = 16, seed: int = 0, method: str = "cfg",
               **method_params: Any) -> Iterator[Frame]:
        """The run's S + 1 frames as they are computed; `method` and its parameters by public name
        (weak_model= / classifier= for explicit models)."""
        return sample_frames(**self._run(label, guidance, steps, sampler, eta, n, seed, method, method_params))

    def sample(self, label, guidance: float = 1.0, steps: int = 100, sampler: str = "ddpm",
               eta: float = 0.0, n: int = 16, seed: int = 0, keep_trajectory: bool = True,
               method: str = "cfg", **method_params: Any) -> Trajectory:
        """The whole run (see `frames`)."""
        return sample(keep_trajectory=keep_trajectory,
                      **self._run(label, guidance, steps, sampler, eta, n, seed, method, method_params))

    def exact(self, n: int, seed: int = 0) -> "GuidedSampler":
        """The same schedule and labels with the exact denoiser of n training examples per class in
        place of the network (`World.exact_model`; the pool is drawn with seed + 1, apart from the
        sampling noise): what a perfect model of those examples does."""
        n = EXACT.check(n)
        model = self.world.exact_model(n, self.checkpoint.diffusion.alphas_cumprod_f64, seed=seed + 1)
        return GuidedSampler(Checkpoint(model, self.checkpoint.config), spacing=self.spacing)

    def drawn(self, drawing) -> "GuidedSampler":
        """The exact denoiser of a drawing (`worlds.points_drawn`) with this sampler's schedule: its labels
        are the drawing's class names."""
        config = self.checkpoint.config
        model = exact_denoiser(drawing, self.checkpoint.diffusion.alphas_cumprod_f64)
        config = DiffusionConfig(config.world, list(drawing.names), config.architecture, config.schedule,
                                 config.timesteps, config.p_uncond)
        return GuidedSampler(Checkpoint(model, config), spacing=self.spacing, data=drawing)

    @property
    def is_exact(self) -> bool:
        """Whether the denoiser is an exact one (it costs `Sizes.exact_cost` per step)."""
        return isinstance(self.checkpoint.model, ExactDenoiser)

    def to_data(self, x: torch.Tensor) -> np.ndarray:
        """Model-space samples -> the world's public data format (float32)."""
        return self.world.to_data(x)


def smaller_pool(exact: ExactDenoiser, fraction: int = 4) -> ExactDenoiser:
    """Autoguidance's weak model for the exact reference: the exact denoiser of the first
    1/fraction of each class's examples of the same pool (at least one each). The pool was drawn
    at random, so this is a random subset: the same data, estimated from fewer examples."""
    idx, labels = [], []
    for k, part in exact.slices.items():
        if k != exact.null_label:
            keep = max(1, (part.stop - part.start) // fraction)
            idx += range(part.start, part.start + keep)
            labels += [k] * keep
    return ExactDenoiser(exact.pool[idx], torch.tensor(labels), exact.ab, exact.null_label)
