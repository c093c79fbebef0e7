"""Schedules, respacing and the forward process, checked against diffusers on the same inputs."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from diffusion.core.gaussian import GaussianDiffusion, extract
from diffusion.core.schedules import make_betas, space_timesteps

ROOT = Path(__file__).resolve().parent.parent


def exact(scheduler):
    """diffusers keeps alpha_bar as a float32 cumprod, so 1 - alpha_bar at t = 1 is off by ~6e-4
    relative; give the peer the float64 cumprod of its own betas, as our tables have."""
    scheduler.alphas_cumprod = torch.cumprod(1 - scheduler.betas.double(), 0)
    return scheduler


def peer(schedule: str, T: int, **kw) -> DDPMScheduler:
    if schedule == "linear":
        s = 1000 / T
        return exact(DDPMScheduler(T, beta_start=1e-4 * s, beta_end=0.02 * s, beta_schedule="linear", **kw))
    return exact(DDPMScheduler(T, beta_schedule="squaredcos_cap_v2", **kw))


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("T", [1000, 200])
def test_betas_match_diffusers(schedule, T):
    ours = make_betas(schedule, T)
    assert ours.shape == (T,)
    np.testing.assert_allclose(ours, peer(schedule, T).betas.double().numpy(), rtol=1e-5, atol=1e-7)


def test_unknown_schedule_names_the_known_ones():
    with pytest.raises(ValueError, match="linear, cosine"):
        make_betas("quadratic", 100)


def test_shipped_configs_end_in_noise():
    configs = sorted(ROOT.glob("checkpoints/*/diffusion.json"))
    assert configs, "no shipped diffusion checkpoints found"
    for path in configs:
        c = json.loads(path.read_text())
        ab = GaussianDiffusion.from_schedule(c["schedule"], c["timesteps"]).alphas_cumprod
        assert float(ab[-1]) <= 0.01, f"{path}: alpha_bar_T = {float(ab[-1]):.4f} keeps signal"


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_q_sample_matches_add_noise(schedule):
    d, p = GaussianDiffusion.from_schedule(schedule, 1000), peer(schedule, 1000)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.rand(8, 1, 28, 28, generator=g) * 2 - 1, torch.randn(8, 1, 28, 28, generator=g)
    t = torch.tensor([0, 1, 10, 100, 500, 900, 998, 999])
    torch.testing.assert_close(d.q_sample(x0, t, noise), p.add_noise(x0, noise, t), atol=1e-5, rtol=0)


def test_extract_broadcasts_to_points_and_images():
    table = torch.arange(10.0)
    t = torch.tensor([1, 3, 5])
    assert extract(table, t, torch.Size([3, 2])).shape == (3, 1)
    assert extract(table, t, torch.Size([3, 1, 28, 28])).shape == (3, 1, 1, 1)
    assert extract(table, 4, torch.Size([3, 1, 28, 28])).shape == (1, 1, 1, 1)
    assert extract(table, t, torch.Size([3, 2]))[:, 0].tolist() == [1.0, 3.0, 5.0]


def test_space_timesteps_even_and_complete():
    assert space_timesteps(1000, 1) == [999]
    assert space_timesteps(1000, 2) == [0, 999]
    ts = space_timesteps(1000, 100)
    assert len(ts) == len(set(ts)) == 100 and ts[0] == 0 and ts[-1] == 999
    gaps = np.diff(ts)
    assert gaps.min() >= 10 and gaps.max() <= 11
    assert space_timesteps(50, 50) == list(range(50))
    for bad in (0, 51, 2.5):
        with pytest.raises(ValueError, match="allowed: an integer in 1..50"):
            space_timesteps(50, bad)


def half_log_snr(schedule: str) -> tuple[np.ndarray, np.ndarray]:
    ab = np.cumprod(1.0 - make_betas(schedule, 1000))
    return ab, 0.5 * np.log(ab / (1 - ab))


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("spacing", ["logsnr", "logsnr-clipped"])
def test_logsnr_spacings_are_complete(schedule, spacing):
    ab, _ = half_log_snr(schedule)
    for steps in (2, 5, 10, 20, 100, 500, 999, 1000):
        ts = space_timesteps(1000, steps, spacing, ab)
        assert len(ts) == steps and ts[0] == 0 and ts[-1] == 999 and np.all(np.diff(ts) > 0)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_logsnr_spacing_is_even_in_half_log_snr(schedule):
    ab, lam = half_log_snr(schedule)
    ts = space_timesteps(1000, 10, "logsnr", ab)
    gaps = -np.diff(lam[ts])  # lambda falls with t
    if schedule == "linear":  # no two targets share a timestep: each is the nearest integer's lambda
        assert np.ptp(gaps) < 0.05 * gaps.mean()
    assert space_timesteps(1000, 10, "uniform", ab) == space_timesteps(1000, 10)
    with pytest.raises(ValueError, match="spacing='even' is not allowed; allowed: uniform, logsnr, logsnr-clipped$"):
        space_timesteps(1000, 10, "even", ab)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_clipped_logsnr_spacing_spends_no_step_below_snr_1(schedule):
    ab, lam = half_log_snr(schedule)
    ts = space_timesteps(1000, 10, "logsnr-clipped", ab)
    # Nine steps evenly in lambda from lambda_0 towards 0 (one gap above SNR 1 is left for the jump
    # from T - 1), and nothing else but T - 1 itself.
    targets = lam[0] - lam[0] / 9 * np.arange(9)
    assert ts[:-1] == [int(np.argmin(np.abs(lam - v))) for v in targets] and np.all(lam[ts[:-1]] > 0)
    # Clipping only moves steps: where lambda never falls below 0 it is plain logsnr.
    full = np.cumprod(np.full(1000, 1 - 1e-5))
    assert space_timesteps(1000, 10, "logsnr-clipped", full) == space_timesteps(1000, 10, "logsnr", full)


def test_respace_keeps_alpha_bar_and_full_respace_is_identity():
    d = GaussianDiffusion.from_schedule("cosine", 1000)
    r = d.respace(10)
    assert r.timesteps == space_timesteps(1000, 10)
    torch.testing.assert_close(r.alphas_cumprod, d.alphas_cumprod[r.timesteps])
    assert d.respace(1000) is d
    assert d.respace(10, "logsnr").timesteps == space_timesteps(1000, 10, "logsnr", d.alphas_cumprod_f64)
