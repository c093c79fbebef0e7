"""Guided sampling: classifier-free guidance, one step function (`GaussianDiffusion.step`) and
one loop for every sampler and step count. The loop is a generator of frames so a UI can stream.

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

from .gaussian import SAMPLERS, GaussianDiffusion

MAX_GUIDANCE = 20.0


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


def doubles_batch(guidance: float, all_null: bool) -> bool:
    """Whether a step needs cond and uncond rows: not at s = 0 (uncond only), s = 1 (cond only),
    or when every label is already the null label (nothing to guide toward)."""
    return not (guidance == 0 or guidance == 1 or all_null)


def guidance_rows(y: torch.Tensor, null_label: int, guidance: float) -> torch.Tensor:
    """The labels of the network's rows for the labels y (B,): [y; null] (2B,) in one batched call
    when `doubles_batch`, else all null (s = 0, or every label null) or y (s = 1)."""
    null = torch.full_like(y, null_label)
    all_null = bool((y == null_label).all())
    if doubles_batch(guidance, all_null):
        return torch.cat([y, null])
    return null if guidance == 0 or all_null else y


def mix(out: torch.Tensor, batch: int, guidance: float) -> torch.Tensor:
    """Network output for `guidance_rows` -> guided eps (B, ...):
    eps = eps_uncond + s (eps_cond - eps_uncond)  (Ho & Salimans, 2022), as one lerp."""
    if out.shape[0] == batch:
        return out
    eps_c, eps_u = out.chunk(2)
    return torch.lerp(eps_u, eps_c, guidance)


def guided_eps(model, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, null_label: int,
               guidance: float) -> torch.Tensor:
    """eps = eps_uncond + s (eps_cond - eps_uncond) for one step, with the model's plain forward.

    s = 0 is the unconditional model and s = 1 the conditional one: one network call each.
    Otherwise cond and uncond go through the network as one doubled batch. Rows whose label is
    already the null label need no guidance, so an all-"random" batch also costs one call.
    """
    rows = guidance_rows(y, null_label, guidance)
    k = len(rows) // len(y)
    return mix(model(torch.cat([x] * k), torch.cat([t] * k), rows), len(y), guidance)


class GuidedDenoiser:
    """The guided eps of one run, `eps = denoiser(x_t, i)` at table index i of `chain`.

    The rows' labels are fixed for the run, so they are worked out once. A model with the
    `embed_grid`/`trunk` split (`diffusion.nn.ConditionedDenoiser`) gets every step's condition
    embeddings in one call up front and the un-doubled x_t (its label-free stem runs once for cond
    and uncond rows); any other model is called as model(x, t, y) on the doubled batch.
    """

    def __init__(self, model, chain: GaussianDiffusion, y: torch.Tensor, null_label: int, guidance: float):
        self.model, self.y, self.null_label, self.guidance = model, y, null_label, float(guidance)
        self.rows = guidance_rows(y, null_label, guidance)
        self.times = chain.model_timesteps
        self.grid = model.embed_grid(self.times) if hasattr(model, "embed_grid") else None

    def __call__(self, x: torch.Tensor, i: int) -> torch.Tensor:
        if self.grid is None:
            return guided_eps(self.model, x, self.times[i].expand(len(self.y)), self.y, self.null_label, self.guidance)
        # (S, L, c) tables -> this step's (rows, c)
        return mix(self.model.trunk(x, [g[i].index_select(0, self.rows) for g in self.grid]), len(self.y), self.guidance)


def check_sampling_args(steps: int, T: int, guidance: float, sampler: str, eta: float) -> None:
    """ValueError naming the bad value and the allowed range."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; allowed: {', '.join(SAMPLERS)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= T:
        raise ValueError(f"steps={steps!r} is out of range: allowed 1..{T}")
    if not (0.0 <= float(guidance) <= MAX_GUIDANCE):
        raise ValueError(f"guidance={guidance!r} is out of range: allowed 0..{MAX_GUIDANCE:g}")
    if not (0.0 <= float(eta) <= 1.0):
        raise ValueError(f"eta={eta!r} is out of range: allowed 0..1")


def sample_frames(model, diffusion: GaussianDiffusion, y: torch.Tensor, shape: tuple[int, ...],
                  null_label: int, guidance: float = 1.0, steps: int | None = None,
                  sampler: str = "ddpm", eta: float = 0.0, clip: bool = True,
                  generator: torch.Generator | None = None, x_T: torch.Tensor | None = None
                  ) -> Iterator[Frame]:
    """Run the reverse process from x_T ~ N(0, I) (or the given x_T) for the labels y (B,),
    yielding S + 1 frames. `shape` is one sample's shape: (2,) or (1, 28, 28)."""
    steps = diffusion.num_steps if steps is None else steps
    check_sampling_args(steps, diffusion.num_steps, guidance, sampler, eta)
    if generator is None:
        raise ValueError("pass a torch.Generator: sampling never reads the global RNG")
    chain = diffusion.respace(steps)
    x = torch.randn((len(y), *shape), generator=generator) if x_T is None else x_T
    # Inference mode is entered per step, never held across a yield: a suspended (or abandoned)
    # generator would otherwise leave its consumer's thread in inference mode.
    with torch.inference_mode():
        denoiser = GuidedDenoiser(model, chain, y, null_label, guidance)
    for i in reversed(range(chain.num_steps)):
        with torch.inference_mode():
            eps = denoiser(x, i)
            noise = torch.randn(x.shape, generator=generator) if chain.needs_noise(i, sampler, eta) else None
            out = chain.step(eps, i, x, noise, sampler, eta, clip)
        yield Frame(chain.num_steps - 1 - i, chain.timesteps[i], x, out.pred_x0)
        x = out.prev_sample
    yield Frame(chain.num_steps, -1, x, x)


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
