"""`GaussianDiffusion`: the DDPM forward process and the reverse step, from one set of tables.

Shapes: x is (B, 2) for points or (B, 1, 28, 28) for images; t is an int or a (B,) long tensor
of indices into this object's tables. A respaced diffusion (fewer steps) is a new object whose
tables are built from a subset of the original alpha_bar, and `timesteps[i]` is the original
timestep that the network is told (improved-diffusion's `space_timesteps`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .checks import invalid
from .schedules import make_betas, space_timesteps
from .stf import stf_eps_target

ONE_STEP = ("ddpm", "ddim")  # the samplers `step` takes; core.sampling.SAMPLERS has all


def extract(table: torch.Tensor, t: int | torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """table[t] shaped to broadcast against a batch of `shape`: (B, 1, ...) or (1, 1, ...)."""
    if isinstance(t, int):
        return table[t].reshape((1,) * len(shape))
    return table.gather(0, t).reshape((shape[0],) + (1,) * (len(shape) - 1))


@dataclass
class StepOutput:
    prev_sample: torch.Tensor  # x_{t-1}, same shape as x_t
    pred_x0: torch.Tensor  # the x0 prediction made at this step


class GaussianDiffusion:
    """Coefficient tables of a noise schedule; never holds the network."""

    def __init__(self, alphas_cumprod: np.ndarray, timesteps: Sequence[int] | None = None):
        ac = np.asarray(alphas_cumprod, dtype=np.float64)
        ac_prev = np.append(1.0, ac[:-1])
        betas = 1.0 - ac / ac_prev
        post_var = betas * (1.0 - ac_prev) / (1.0 - ac)
        coef1 = betas * np.sqrt(ac_prev) / (1.0 - ac)  # q_posterior's mean = coef1 x0 + coef2 x_t
        coef2 = (1.0 - ac_prev) * np.sqrt(1.0 - betas) / (1.0 - ac)
        self.alphas_cumprod_f64 = ac
        # Python floats for the per-step scalars: DDIM's sqrt(1 - ab_prev - sigma^2) cancels badly
        # in float32 when sigma^2 is close to 1 - ab_prev (eta near 1, early steps).
        self._ab_prev, self._post_var = ac_prev.tolist(), post_var.tolist()
        # The reverse step's per-index scalars, so that a step is a few whole-tensor ops with Python
        # float coefficients (no table gathers): 1/sqrt(ab), sqrt(1/ab - 1), posterior coefs 1, 2.
        self._step_coefs = list(zip((1.0 / np.sqrt(ac)).tolist(), np.sqrt(1.0 / ac - 1.0).tolist(),
                                    coef1.tolist(), coef2.tolist()))
        self.num_steps = len(ac)
        self.timesteps = list(range(self.num_steps)) if timesteps is None else [int(v) for v in timesteps]

        def f32(a: np.ndarray) -> torch.Tensor:
            return torch.tensor(a, dtype=torch.float32)

        # Tables for batches of mixed timesteps (training, the direction field): `extract` gathers.
        self.betas = f32(betas)
        self.alphas_cumprod = f32(ac)
        self.sqrt_alphas_cumprod = f32(np.sqrt(ac))
        self.sqrt_one_minus_alphas_cumprod = f32(np.sqrt(1.0 - ac))
        self.model_timesteps = torch.tensor(self.timesteps, dtype=torch.long)

    @classmethod
    def from_schedule(cls, schedule: str, T: int) -> "GaussianDiffusion":
        return cls(np.cumprod(1.0 - make_betas(schedule, T)))

    def respace(self, steps: int | Sequence[int], spacing: str = "uniform") -> "GaussianDiffusion":
        """A diffusion over `steps` timesteps picked by `spacing` (`schedules.space_timesteps`),
        or over the given increasing subset.

        Its betas are 1 - alpha_bar[t_i] / alpha_bar[t_{i-1}], so DDPM on it is the ancestral
        sampler of the shorter chain (Nichol & Dhariwal, 2021).
        """
        keep = (space_timesteps(self.num_steps, steps, spacing, self.alphas_cumprod_f64)
                if isinstance(steps, int) else list(steps))
        if keep == list(range(self.num_steps)):
            return self
        ac = self.alphas_cumprod_f64[keep]
        return GaussianDiffusion(ac, [self.timesteps[i] for i in keep])

    # Forward process --------------------------------------------------------------------------
    def q_sample(self, x0: torch.Tensor, t: int | torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps  (Ho et al., eq. 4)."""
        return (extract(self.sqrt_alphas_cumprod, t, x0.shape) * x0
                + extract(self.sqrt_one_minus_alphas_cumprod, t, x0.shape) * noise)

    def predict_x0(self, x_t: torch.Tensor, t: int | torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)  (Ho et al., eq. 4 solved for x0)."""
        return ((x_t - extract(self.sqrt_one_minus_alphas_cumprod, t, x_t.shape) * eps)
                / extract(self.sqrt_alphas_cumprod, t, x_t.shape))

    def q_posterior(self, x0: torch.Tensor, x_t: torch.Tensor, i: int) -> tuple[torch.Tensor, float]:
        """Mean and variance of q(x_{t-1} | x_t, x0) at table index i  (Ho et al., eq. 6-7):
        mean = coef1 x0 + coef2 x_t, coef1 = beta_t sqrt(ab_{t-1}) / (1 - ab_t),
        coef2 = (1 - ab_{t-1}) sqrt(alpha_t) / (1 - ab_t); variance = beta_t (1 - ab_{t-1}) / (1 - ab_t)."""
        _, _, coef1, coef2 = self._step_coefs[i]
        return torch.add(x0 * coef1, x_t, alpha=coef2), self._post_var[i]

    # Training ---------------------------------------------------------------------------------
    def training_loss(self, model, x0: torch.Tensor, y: torch.Tensor, null_label: int,
                      p_uncond: float, generator: torch.Generator,
                      min_snr_gamma: float = 0.0,
                      reference: tuple[torch.Tensor, torch.Tensor] | None = None,
                      t_density: torch.Tensor | None = None) -> torch.Tensor:
        """MSE between the true and the predicted noise at a uniformly drawn t (Ho et al., eq. 14).

        With probability `p_uncond` a label becomes `null_label`, so that one network learns both
        the conditional and the unconditional model (Ho & Salimans, 2022).
        With `min_snr_gamma` > 0 each sample's MSE is weighted by min(SNR_t, gamma) / SNR_t,
        SNR_t = alpha_bar_t / (1 - alpha_bar_t) (Min-SNR, Hang et al. 2023, for eps-prediction):
        the near-clean steps, whose eps is hard to predict but matters little, stop dominating.
        With `reference` (further training examples (n, *shape) and their labels (n,)) the target is
        the Stable Target Field eps of `core.stf` instead of the row's own noise.
        With `t_density` ((T,) relative weights, `schedules.band_density`) t is drawn from it instead of
        uniformly: the minimiser at each t is unchanged, the share of the updates each t gets is not.
        """
        b = x0.shape[0]
        with torch.no_grad():
            t = (torch.randint(0, self.num_steps, (b,), generator=generator) if t_density is None
                 else torch.multinomial(t_density, b, replacement=True, generator=generator))
            noise = torch.randn(x0.shape, generator=generator)
            drop = torch.rand(b, generator=generator) < p_uncond
            y = torch.where(drop, torch.full_like(y, null_label), y)
            x_t = self.q_sample(x0, t, noise)
            if reference is not None:
                noise = stf_eps_target(x_t, x0, y, self.sqrt_alphas_cumprod[t], self.sqrt_one_minus_alphas_cumprod[t],
                                       *reference, null_label)
        if min_snr_gamma <= 0:
            return F.mse_loss(model(x_t, self.model_timesteps[t], y), noise)
        snr = self.alphas_cumprod[t] / (1.0 - self.alphas_cumprod[t])
        weight = snr.clamp(max=min_snr_gamma) / snr
        per_sample = (model(x_t, self.model_timesteps[t], y) - noise).pow(2).flatten(1).mean(1)
        return (weight * per_sample).mean()

    # Reverse process --------------------------------------------------------------------------
    def step(self, eps: torch.Tensor, i: int, x_t: torch.Tensor, noise: torch.Tensor | None,
             sampler: str = "ddpm", eta: float = 0.0, clip: bool = True) -> StepOutput:
        """One reverse step from table index i to i-1, given the network's (guided) eps.

        ddpm: x_{t-1} = mean of q_posterior(x0_pred, x_t) + sqrt(posterior variance) * z
              (`p_sample`, Ho et al., Algorithm 2, with sigma^2 = beta-tilde).
        ddim: x_{t-1} = sqrt(ab_prev) x0 + sqrt(1 - ab_prev - sigma^2) eps + sigma z,
              sigma = eta * sqrt(beta-tilde_t)  (Song et al., 2021, eq. 12).
        With `clip`, x0 is clipped to [-1, 1] and DDIM re-derives eps from the clipped x0.
        No noise is added at i = 0, so `noise` may be None there (and for DDIM with eta = 0).
        """
        inv_sqrt_ab, sqrt_recip_m1, _, _ = self._step_coefs[i]
        # x0 = (x_t - sqrt(1 - ab) eps) / sqrt(ab) = x_t / sqrt(ab) - sqrt(1/ab - 1) eps
        x0 = torch.add(x_t * inv_sqrt_ab, eps, alpha=-sqrt_recip_m1)
        if clip:
            x0 = x0.clamp_(-1.0, 1.0)
        if sampler == "ddpm":
            mean, var = self.q_posterior(x0, x_t, i)
            std = var ** 0.5
        elif sampler == "ddim":
            if clip:  # eps = (x_t / sqrt(ab) - x0) / sqrt(1/ab - 1)
                eps = torch.sub(x_t * inv_sqrt_ab, x0).div_(sqrt_recip_m1)
            ab_prev, var = self._ab_prev[i], eta * eta * self._post_var[i]
            std = var ** 0.5
            mean = torch.add(x0 * ab_prev ** 0.5, eps, alpha=max(1.0 - ab_prev - var, 0.0) ** 0.5)
        else:
            raise invalid("sampler", sampler, ", ".join(ONE_STEP))
        if i > 0 and std > 0:
            mean = mean.add_(noise, alpha=std)
        return StepOutput(mean, x0)

    def p_sample(self, eps: torch.Tensor, i: int, x_t: torch.Tensor, noise: torch.Tensor | None,
                 clip: bool = True) -> StepOutput:
        """The DDPM ancestral step (Ho et al., Algorithm 2); see `step`."""
        return self.step(eps, i, x_t, noise, "ddpm", clip=clip)

    def needs_noise(self, i: int, sampler: str, eta: float) -> bool:
        return i > 0 and (sampler == "ddpm" or eta > 0)
