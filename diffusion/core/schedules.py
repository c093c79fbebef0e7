"""Noise schedules as pure functions of (name, T), timestep respacing, and the training timestep density.

Every function returns a float64 numpy array so that the coefficient tables built from it
(see `diffusion.gaussian`) carry no float32 rounding from the schedule itself.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .checks import invalid

SCHEDULES = ("linear", "cosine")
SPACINGS = ("uniform", "logsnr", "logsnr-clipped")  # how a run of S steps picks its timesteps out of T
# "logsnr-clipped" spaces no step below this half log-SNR (SNR 1), as diffusers' lambda_min_clipped.
LAMBDA_MIN_CLIPPED = 0.0


def linear_betas(T: int) -> np.ndarray:
    """Ho et al. (2020): beta rises linearly from 1e-4 to 0.02 over 1000 steps.

    For other T the endpoints are scaled by 1000 / T (as in improved-diffusion), so that the
    total amount of noise, and thus alpha_bar_T, stays close to the 1000-step schedule.
    """
    scale = 1000.0 / T
    # Below T = 20 the scaled end point passes 1; clip as the cosine schedule does.
    return np.minimum(np.linspace(scale * 1e-4, scale * 0.02, T, dtype=np.float64), 0.999)


def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Nichol & Dhariwal (2021): alpha_bar(t) = cos^2(((t/T + s) / (1 + s)) * pi/2).

    beta_t = 1 - alpha_bar(t+1) / alpha_bar(t), clipped at `max_beta` to avoid the singularity
    at t = T.
    """
    def alpha_bar(u: float) -> float:
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / T) / alpha_bar(i / T), max_beta) for i in range(T)]
    return np.array(betas, dtype=np.float64)


def make_betas(schedule: str, T: int) -> np.ndarray:
    """Betas (T,) of the named schedule. Raises ValueError for unknown names or T < 1."""
    if not isinstance(T, int) or T < 1:
        raise invalid("timesteps", T, "an integer >= 1")
    if schedule == "linear":
        return linear_betas(T)
    if schedule == "cosine":
        return cosine_betas(T)
    raise invalid("schedule", schedule, ", ".join(SCHEDULES))


def space_timesteps(T: int, steps: int, spacing: str = "uniform",
                    alphas_cumprod: np.ndarray | None = None) -> list[int]:
    """An increasing subset of `steps` timesteps out of range(T).

    It always contains T - 1, so that the reverse process starts from (nearly) pure noise, and,
    for steps >= 2, also 0, so that it ends on the cleanest step. steps = 1 gives [T - 1]: one
    jump from noise straight to the x0 prediction.

    spacing "uniform": evenly spaced in t (DDIM's and improved-diffusion's spacing).
    spacing "logsnr": evenly spaced in the half log-SNR lambda_t = log(sqrt(ab_t / (1 - ab_t)))
    (Lu et al. 2022, "DPM-Solver", sec. 3.3, for low-dimensional data): the nearest integer
    timesteps, nudged apart where two would round to the same one. It needs the schedule's
    alpha_bar (T,). With the linear schedule, evenly spaced t leaves one step from t ~ T/S to
    the clean sample, too coarse for data on thin curves; even in lambda, the steps crowd at low noise.
    spacing "logsnr-clipped": as "logsnr", but evenly from lambda_0 down to LAMBDA_MIN_CLIPPED
    (SNR 1) only, the noisiest of those steps moved out to T - 1: the first step jumps from pure
    noise to about SNR 1, and the others go where the samples take their shape (measured on the
    points world: `checkpoints/points/README.md`). Clipping lambda is diffusers'
    `lambda_min_clipped`. A converged reference must not use it: one step cannot follow the ODE
    from T - 1 down to SNR 1.
    """
    if not isinstance(steps, int) or not 1 <= steps <= T:
        raise invalid("steps", steps, f"an integer in 1..{T}")
    if spacing not in SPACINGS:
        raise invalid("spacing", spacing, ", ".join(SPACINGS))
    if steps == 1:
        return [T - 1]
    if spacing == "uniform":
        # Spacing is >= 1 when steps <= T, so rounding keeps the values distinct.
        return [int(round(v)) for v in np.linspace(0, T - 1, steps)]
    ab = np.asarray(alphas_cumprod, dtype=np.float64)
    if ab.shape != (T,):
        raise ValueError(f"logsnr spacing needs alpha_bar of shape ({T},), got {ab.shape}")
    lam = 0.5 * (np.log(ab) - np.log1p(-ab))  # decreasing in t
    low = max(lam[-1], LAMBDA_MIN_CLIPPED) if spacing == "logsnr-clipped" else lam[-1]
    ts = [int(np.argmin(np.abs(lam - v))) for v in np.linspace(lam[0], low, steps)]
    ts[0], ts[-1] = 0, T - 1
    for i in range(1, steps):  # strictly increasing from 0 ...
        ts[i] = max(ts[i], ts[i - 1] + 1)
    ts[-1] = T - 1
    for i in range(steps - 2, -1, -1):  # ... and below T - 1 (steps <= T leaves room for both)
        ts[i] = min(ts[i], ts[i + 1] - 1)
    return ts


def band_density(band: Sequence[float], T: int) -> np.ndarray:
    """(T,) relative weights of the training timesteps: `weight` in [lo, hi), 1 elsewhere, for
    band = (lo, hi, weight) with 0 <= lo < hi <= T and 0 <= weight <= 1000 (ValueError otherwise)."""
    if len(band) != 3:
        raise invalid("t_band", list(band), "three numbers: lo hi weight")
    lo, hi, weight = band
    if not (float(lo).is_integer() and float(hi).is_integer() and 0 <= lo < hi <= T):
        raise invalid("t_band", list(band), f"integers 0 <= lo < hi <= {T}")
    if not 0 <= weight <= 1000:
        raise invalid("t_band", list(band), "a weight in 0..1000")
    density = np.ones(T, dtype=np.float64)
    density[int(lo):int(hi)] = float(weight)
    if density.sum() == 0:
        raise invalid("t_band", list(band), "a band that leaves some timestep a weight above 0")
    return density
