"""Guided sampling: one loop for every sampler, guidance scale and step count, a generator of frames
so a UI can stream. A step is `GaussianDiffusion.step` (DDPM, DDIM) or a multistep solver's step
with its small state object (`core.solvers`: DPM-Solver++(2M), its SDE variant, UniPC).

Frames: for k = 0..S-1, frame k holds x_t at the k-th timestep of the (respaced) chain and the
x0 predicted from it; frame S holds the final sample (as both x and x0). S + 1 frames in all.

Speed (see `python -m diffusion.bench`): everything that is fixed for a run is done once before the
first step (the guidance rows, and for embed/trunk models every step's condition embeddings), cond
and uncond rows share one network call and the label-free stem, and a step is a few whole-tensor
ops with Python-float coefficients. The same loop serves every model, sampler and step count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

from .checks import invalid
from .gaussian import ONE_STEP, GaussianDiffusion
from .guidance import Guider, GuidedDenoiser
from .solvers import SOLVERS, MultistepSolver

SAMPLERS = (*ONE_STEP, *SOLVERS)


def stochastic(sampler: str, eta: float = 0.0) -> bool:
    """Whether a run of this sampler draws fresh noise at its steps (DDPM, the SDE solver, DDIM with
    eta > 0): such a run forgets a coarse early step that a deterministic one carries to the end."""
    return sampler in ("ddpm", "dpm++2m-sde") or (sampler == "ddim" and eta > 0)


@dataclass
class Frame:
    index: int  # 0..S
    t: int  # the network's timestep (-1 for the final sample)
    x: torch.Tensor  # x_t, (B, ...)
    x0: torch.Tensor  # the x0 prediction at this step, (B, ...)


@dataclass
class Trajectory:
    xs: torch.Tensor  # (S + 1, B, ...): x_T ... x_0
    x0s: torch.Tensor  # (S + 1, B, ...): x0 predictions; the last is the final sample
    timesteps: list[int]  # (S + 1,) network timesteps, -1 for the final sample

    @property
    def samples(self) -> torch.Tensor:
        return self.xs[-1]


def sample_frames(model, diffusion: GaussianDiffusion, y: torch.Tensor, shape: tuple[int, ...],
                  null_label: int, guidance: float = 1.0, steps: int | None = None,
                  sampler: str = "ddpm", eta: float = 0.0, clip: bool = True,
                  generator: torch.Generator | None = None, x_T: torch.Tensor | None = None,
                  method: str | Guider = "cfg", spacing: str = "uniform") -> Iterator[Frame]:
    """Run the reverse process from x_T ~ N(0, I) (or the given x_T) for the labels y (B,),
    yielding S + 1 frames. `shape` is one sample's shape, e.g. (2,) or (1, 28, 28).
    `method` is the guidance method at scale `guidance`: a name of `guidance.METHODS` (its default
    parameters) or a guider from `guidance.make_guider` (its parameters, weak model, classifier).
    `spacing` picks the run's timesteps out of T (`schedules.space_timesteps`).
    The public ranges of these arguments are `diffusion.inputs`' job; this checks only what the
    math needs (steps in 1..T, a known sampler, a generator)."""
    steps = diffusion.num_steps if steps is None else steps
    if generator is None:
        raise ValueError("pass a torch.Generator: sampling never reads the global RNG")
    if sampler not in SAMPLERS:
        raise invalid("sampler", sampler, ", ".join(SAMPLERS))
    chain = diffusion.respace(steps, spacing)
    x = torch.randn((len(y), *shape), generator=generator) if x_T is None else x_T
    # Inference mode is entered per step, never held across a yield: a suspended (or abandoned)
    # generator would otherwise leave its consumer's thread in inference mode.
    with torch.inference_mode():
        denoiser = GuidedDenoiser(model, chain.model_timesteps, y, null_label, guidance, method,
                                  chain.alphas_cumprod_f64)
    S = chain.num_steps
    # A solver walks the chain's own table (indices S-1 .. 0), so it sees the respaced alpha_bar.
    solver = MultistepSolver(sampler, chain.alphas_cumprod_f64, range(S - 1, -1, -1), clip) \
        if sampler in SOLVERS else None
    state = solver.new_state() if solver else None
    for i in reversed(range(S)):
        k = S - 1 - i  # frame index: the k-th step of the run
        with torch.inference_mode():
            eps = denoiser(x, i)
            fresh = solver.needs_noise(k) if solver else chain.needs_noise(i, sampler, eta)
            noise = torch.randn(x.shape, generator=generator) if fresh else None
            if solver:
                prev, x0 = solver.step(eps, k, x, noise, state)
            else:
                out = chain.step(eps, i, x, noise, sampler, eta, clip)
                prev, x0 = out.prev_sample, out.pred_x0
        yield Frame(k, chain.timesteps[i], x, x0)
        x = prev
    yield Frame(S, -1, x, x)


def sample(model, diffusion: GaussianDiffusion, y: torch.Tensor, shape: tuple[int, ...],
           null_label: int, keep_trajectory: bool = True, **kwargs) -> Trajectory:
    """The whole run, frames gathered into preallocated (S + 1, B, ...) tensors (or, with
    keep_trajectory=False, only the final sample as a one-frame trajectory)."""
    xs = x0s = None
    ts: list[int] = []
    for f in sample_frames(model, diffusion, y, shape, null_label, **kwargs):
        if not keep_trajectory:
            last = f
            continue
        if xs is None:
            n = (kwargs.get("steps") or diffusion.num_steps) + 1
            xs, x0s = (torch.empty((n, *f.x.shape), dtype=f.x.dtype) for _ in range(2))
        xs[f.index], x0s[f.index] = f.x, f.x0
        ts.append(f.t)
    if not keep_trajectory:
        return Trajectory(last.x[None], last.x0[None], [last.t])
    return Trajectory(xs, x0s, ts)
