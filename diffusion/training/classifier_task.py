"""Training a world's noise-aware classifier (train kind "<world>-classifier"): cross-entropy of
classifier(x_t, t) against the label, on x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps at a uniformly
drawn t, with the schedule of the world's denoiser (so t means the same to both).

At large t the data is almost gone and the best possible loss tends to log C (chance); at small t
the classifier is an ordinary one. Classifier guidance needs it at every t.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.checkpoint import DiffusionConfig
from .world_task import WorldTask


class ClassifierTask(WorldTask):
    """The `Task` of a noise-aware classifier; validation is the held-out cross-entropy at fixed
    (seeded) t and noise, averaged over t ~ U(0, T)."""

    def __init__(self, config, data=None):
        super().__init__(config, data)
        self.title = f"{self.world.title}: noise-aware classifier for classifier guidance"
        self.card_intro = ("classifier(x_t, t) -> logits over the real classes, for classifier guidance "
                           "(Dhariwal & Nichol 2021): eps = eps_u - s sqrt(1 - alpha_bar_t) grad log p(y | x_t). "
                           "t is the denoiser's timestep (same schedule).")

    def make_model(self):
        return self.world.make_classifier(len(self.labels), **self.config.model)

    def diffusion_config(self) -> DiffusionConfig:
        """The world, labels and the schedule that gives t its meaning (no label dropout: p_uncond 0)."""
        c = self.config
        return DiffusionConfig(self.world.name, self.labels, self.world.classifier_architecture, c.schedule,
                               c.timesteps, 0.0)

    def loss(self, model, batch, gen: torch.Generator, validation: bool = False) -> torch.Tensor:
        """Cross-entropy of model(x_t, t) for x0 (B, ...), y (B,), t ~ U{0..T-1}, eps ~ N(0, I)."""
        x0, y = batch
        with torch.no_grad():
            t = torch.randint(0, self.diffusion.num_steps, (len(y),), generator=gen)
            x_t = self.diffusion.q_sample(x0, t, torch.randn(x0.shape, generator=gen))
        return F.cross_entropy(model(x_t, self.diffusion.model_timesteps[t]), y)

    def card_rows(self, c) -> list[str]:
        return [f"| labels | {', '.join(self.labels)} (real classes only: no empty label) |",
                f"| noise schedule | {c.schedule}, T = {c.timesteps} (the world's denoiser's) |",
                "| loss | cross-entropy on x_t = q_sample(x0, t, eps), t uniform in 0..T-1 |"]
