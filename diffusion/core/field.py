"""The denoiser's direction field (2D data): where the model would move a point at a given step,
for the unconditional, the conditional and the guided prediction.

At x_t and network timestep t, each eps gives an x0 estimate
    x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)   (clipped to [-1, 1])
and the arrow is x0_hat - x_t. Guidance mixes eps (eps_u + s (eps_c - eps_u)), so the guided arrow
is the unconditional one pushed s times as far toward the conditional one: s > 1 overshoots.
Another guidance method (`guidance.METHODS`) gives its own guided arrow: its eps at that step of
the run, as the sampler computes it (`GuidedDenoiser` on the run's chain; a method with state
across steps, APG's momentum, is shown without that history).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .gaussian import GaussianDiffusion
from .guidance import Guider, GuidedDenoiser, as_guider, mix

KINDS = ("unconditional", "conditional", "guided")


@dataclass
class DirectionField:
    points: np.ndarray  # (m, 2) grid positions x_t
    arrows: dict[str, np.ndarray]  # kind -> (m, 2) x0_hat - x_t
    t: int


@torch.inference_mode()
def direction_field(model, diffusion: GaussianDiffusion, label: int, null_label: int, guidance: float,
                    t: int, lim: float = 1.25, size: int = 17, method: str | Guider = "cfg",
                    steps: int | None = None, index: int | None = None, spacing: str = "uniform") -> DirectionField:
    """The three fields on a size x size grid over [-lim, lim]^2 at network timestep t (t < 0, the
    final frame, is shown as t = 0), for the label index `label` (null_label: unconditional).
    For a method other than cfg, the guided arrow is its eps at frame `index` (0..steps) of a run
    of `steps` steps (respaced like the sampler's chain, by `spacing`), whose timestep is t."""
    t = max(int(t), 0)
    axis = torch.linspace(-lim, lim, size)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2)
    m = len(grid)
    y = torch.full((m,), label, dtype=torch.long)
    null = torch.full_like(y, null_label)
    tt = torch.full((m,), t, dtype=torch.long)
    # Both branches always: the field shows them, also at s = 0 or 1.
    out = model(torch.cat([grid, grid]), torch.cat([tt, tt]), torch.cat([y, null]))  # the rows `mix` takes
    eps_c, eps_u = out.chunk(2)
    guider = as_guider(method)
    if guider.name == "cfg":
        guided = mix(out, m, guidance)
    else:  # the method's own eps at that step of the run: k = index, chain index i = S - 1 - k
        chain = diffusion.respace(steps, spacing)
        i = chain.num_steps - 1 - min(int(index), chain.num_steps - 1)
        if int(index) < chain.num_steps and chain.timesteps[i] != t:  # the run was spaced otherwise
            raise ValueError(f"t={t} is not step {index} of {steps} steps spaced {spacing!r} "
                             f"(that step is t = {chain.timesteps[i]})")
        guided = GuidedDenoiser(model, chain.model_timesteps, y, null_label, guidance, guider,
                                chain.alphas_cumprod_f64)(grid, i)
    eps = {"unconditional": eps_u, "conditional": eps_c, "guided": guided}
    arrows = {k: (diffusion.predict_x0(grid, t, e).clamp(-1, 1) - grid).numpy() for k, e in eps.items()}
    return DirectionField(grid.numpy(), arrows, t)
