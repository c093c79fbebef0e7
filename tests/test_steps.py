"""One DDPM and one DDIM step (linear and cosine, full and respaced chains) against diffusers."""
import pytest
import torch
from diffusers import DDIMScheduler

from diffusion.core.gaussian import GaussianDiffusion
from test_schedules import exact, peer


def close(ours, ref):
    """Equal to 1e-5, relative to the tensor's scale: at t = T-1 an unclipped x0 prediction is
    amplified by 1/sqrt(alpha_bar) (up to ~1e4), and float32 rounding grows with it."""
    scale = max(1.0, float(ref.abs().max()))
    torch.testing.assert_close(ours, ref, atol=1e-5 * scale, rtol=0)


def inputs(seed=0, shape=(6, 1, 28, 28)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * 1.5, torch.randn(shape, generator=g)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("t", [999, 500, 37, 1, 0])
def test_ddpm_step_matches_diffusers(schedule, clip, t):
    d, p = GaussianDiffusion.from_schedule(schedule, 1000), peer(schedule, 1000, clip_sample=clip)
    x_t, eps = inputs(t)
    ref = p.step(eps, t, x_t, generator=torch.Generator().manual_seed(7))
    noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(7))
    out = d.step(eps, t, x_t, noise, "ddpm", clip=clip)
    close(out.pred_x0, ref.pred_original_sample)
    close(out.prev_sample, ref.prev_sample)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_respaced_ddpm_matches_diffusers_inference_steps(schedule):
    d, p = GaussianDiffusion.from_schedule(schedule, 1000), peer(schedule, 1000, clip_sample=True)
    p.set_timesteps(20)
    chain = d.respace(sorted(int(v) for v in p.timesteps))
    for i, t in enumerate(reversed(chain.timesteps)):
        idx = chain.num_steps - 1 - i
        x_t, eps = inputs(i, (5, 2))
        ref = p.step(eps, t, x_t, generator=torch.Generator().manual_seed(i))
        noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(i))
        out = chain.p_sample(eps, idx, x_t, noise)
        close(out.prev_sample, ref.prev_sample)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("clip", [True, False])
def test_ddim_step_matches_diffusers(schedule, eta, clip):
    kw = dict(beta_schedule="squaredcos_cap_v2") if schedule == "cosine" else {}
    p = exact(DDIMScheduler(1000, clip_sample=clip, set_alpha_to_one=True, **kw))
    p.set_timesteps(10)
    chain = GaussianDiffusion.from_schedule(schedule, 1000).respace(sorted(int(v) for v in p.timesteps))
    for i, t in enumerate(p.timesteps.tolist()):
        idx = chain.num_steps - 1 - i
        assert chain.timesteps[idx] == t
        x_t, eps = inputs(100 + i, (4, 1, 28, 28))
        noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(i))
        ref = p.step(eps, t, x_t, eta=eta, use_clipped_model_output=True, variance_noise=noise)
        out = chain.step(eps, idx, x_t, noise, "ddim", eta=eta, clip=clip)
        close(out.pred_x0, ref.pred_original_sample)
        close(out.prev_sample, ref.prev_sample)


def test_ddim_eta_one_is_ddpm():
    chain = GaussianDiffusion.from_schedule("cosine", 1000).respace(50)
    x_t, eps = inputs(3)
    noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(1))
    for i in (49, 20, 1):
        a = chain.step(eps, i, x_t, noise, "ddpm")
        b = chain.step(eps, i, x_t, noise, "ddim", eta=1.0)
        close(a.prev_sample, b.prev_sample)


def test_unknown_sampler_is_a_clear_error():
    d = GaussianDiffusion.from_schedule("linear", 10)
    x_t, eps = inputs(0, (2, 2))
    with pytest.raises(ValueError, match="ddpm, ddim"):
        d.step(eps, 3, x_t, None, "euler")
