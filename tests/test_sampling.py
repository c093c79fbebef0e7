"""Classifier-free guidance identities, the frame generator, determinism and label dropout."""
import pytest
import torch

from conftest import CountingModel, RecordingModel
from diffusion.core.gaussian import GaussianDiffusion
from diffusion.core.guidance import guided_eps
from diffusion.core.sampling import sample, sample_frames


@pytest.fixture
def diffusion():
    return GaussianDiffusion.from_schedule("cosine", 100)


def xty(b=4):
    g = torch.Generator().manual_seed(0)
    return torch.randn(b, 2, generator=g), torch.full((b,), 50), torch.tensor([0, 1, 2, 0])[:b]


def test_guidance_zero_is_unconditional_in_one_call(counting_model):
    x, t, y = xty()
    eps = guided_eps(counting_model, x, t, y, null_label=3, guidance=0.0)
    assert counting_model.calls == 1 and counting_model.rows == 4
    torch.testing.assert_close(eps, CountingModel()(x, t, torch.full_like(y, 3)))


def test_guidance_one_is_conditional_in_one_call(counting_model):
    x, t, y = xty()
    eps = guided_eps(counting_model, x, t, y, null_label=3, guidance=1.0)
    assert counting_model.calls == 1 and counting_model.rows == 4
    torch.testing.assert_close(eps, CountingModel()(x, t, y))


@pytest.mark.parametrize("s", [0.5, 2.0, 7.5])
def test_guidance_mixes_cond_and_uncond_in_one_batched_call(counting_model, s):
    x, t, y = xty()
    eps = guided_eps(counting_model, x, t, y, null_label=3, guidance=s)
    assert counting_model.calls == 1 and counting_model.rows == 8
    ref = CountingModel()
    e_c, e_u = ref(x, t, y), ref(x, t, torch.full_like(y, 3))
    torch.testing.assert_close(eps, e_u + s * (e_c - e_u))


def test_random_label_needs_no_guidance_call(counting_model):
    x, t, _ = xty()
    guided_eps(counting_model, x, t, torch.full((4,), 3), null_label=3, guidance=5.0)
    assert counting_model.calls == 1 and counting_model.rows == 4


@pytest.mark.parametrize("sampler,eta", [("ddpm", 0.0), ("ddim", 0.0), ("ddim", 0.7)])
@pytest.mark.parametrize("steps", [1, 7, 100])
def test_frames_and_trajectory_agree(diffusion, counting_model, sampler, eta, steps):
    y = torch.tensor([0, 1, 2])
    kw = dict(guidance=2.0, steps=steps, sampler=sampler, eta=eta)
    frames = list(sample_frames(counting_model, diffusion, y, (2,), 3,
                                generator=torch.Generator().manual_seed(5), **kw))
    assert len(frames) == steps + 1 and counting_model.calls == steps
    assert [f.index for f in frames] == list(range(steps + 1))
    assert frames[0].t == 99 and frames[-1].t == -1
    traj = sample(counting_model, diffusion, y, (2,), 3, generator=torch.Generator().manual_seed(5), **kw)
    assert traj.xs.shape == traj.x0s.shape == (steps + 1, 3, 2)
    for f in frames:
        assert torch.equal(traj.xs[f.index], f.x) and torch.equal(traj.x0s[f.index], f.x0)
    assert torch.equal(traj.samples, frames[-1].x)


@pytest.mark.parametrize("sampler", ["ddpm", "dpm++2m"])
def test_a_run_visits_the_timesteps_of_its_spacing(diffusion, counting_model, sampler):
    from diffusion.core.schedules import space_timesteps
    frames = list(sample_frames(counting_model, diffusion, torch.tensor([0, 1]), (2,), 3, steps=8, sampler=sampler,
                                spacing="logsnr", generator=torch.Generator().manual_seed(0)))
    want = space_timesteps(100, 8, "logsnr", diffusion.alphas_cumprod_f64)
    assert [f.t for f in frames[:-1]] == want[::-1] and want != space_timesteps(100, 8)


def test_points_runs_clip_lambda_only_when_stochastic():
    """The points world spaces stochastic runs in clipped lambda and deterministic ones over the whole
    range; an explicit spacing wins; the converged reference of `--samplers` never clips."""
    from diffusion.core.schedules import space_timesteps
    from diffusion.evaluation.samplers_report import reference
    from diffusion.guided_sampler import GuidedSampler
    s = GuidedSampler.load("points")
    ab = s.checkpoint.diffusion.alphas_cumprod_f64
    clipped, full = (space_timesteps(1000, 6, k, ab)[::-1] for k in ("logsnr-clipped", "logsnr"))
    assert clipped != full
    for sampler, eta, want in [("ddpm", 0.0, clipped), ("dpm++2m-sde", 0.0, clipped), ("ddim", 0.5, clipped),
                               ("ddim", 0.0, full), ("dpm++2m", 0.0, full), ("unipc", 0.0, full)]:
        run = s.sample("spiral", 2.0, 6, sampler, eta, n=4, seed=0)
        assert run.timesteps[:-1] == want, sampler
    s.spacing = "logsnr-clipped"
    assert s.sample("spiral", 2.0, 6, "ddim", 0.0, n=4, seed=0).timesteps[:-1] == clipped
    assert reference(s).spacing_for("ddim") == "logsnr" and s.spacing == "logsnr-clipped"
    # the reference is the world's own deterministic run (MNIST's: evenly in t), clipped or not
    m = GuidedSampler.load("mnist")
    own = m.world.spacing_for("ddim")
    m.spacing = "logsnr-clipped"
    assert own != "logsnr-clipped" and reference(m).spacing_for("ddim") == own


def test_same_seed_is_bit_identical_and_global_rng_untouched(diffusion, counting_model):
    y = torch.tensor([0, 1, 2, 3])
    before = torch.get_rng_state()
    runs = [sample(counting_model, diffusion, y, (1, 28, 28), 3, guidance=3.0, steps=20,
                   generator=torch.Generator().manual_seed(11)) for _ in range(2)]
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(runs[0].xs, runs[1].xs) and torch.equal(runs[0].x0s, runs[1].x0s)
    other = sample(counting_model, diffusion, y, (1, 28, 28), 3, guidance=3.0, steps=20,
                   generator=torch.Generator().manual_seed(12))
    assert not torch.equal(other.samples, runs[0].samples)


def test_sampling_requires_a_generator(diffusion, counting_model):
    with pytest.raises(ValueError, match="Generator"):
        list(sample_frames(counting_model, diffusion, torch.tensor([0]), (2,), 3, steps=3))


@pytest.mark.parametrize("kw,msg", [(dict(steps=0), "steps=0 is not allowed; allowed: an integer in 1..100"),
                                    (dict(steps=101), "an integer in 1..100"),
                                    (dict(sampler="euler"), "sampler='euler' is not allowed; allowed: ddpm, ddim")])
def test_what_the_math_needs_is_checked_by_the_core(diffusion, counting_model, kw, msg):
    """The public ranges are `diffusion.inputs`' job (test_inputs); the core checks only what its
    math cannot do without."""
    with pytest.raises(ValueError, match=msg):
        sample(counting_model, diffusion, torch.tensor([0]), (2,), 3,
               generator=torch.Generator().manual_seed(0), **kw)


@pytest.mark.parametrize("p", [0.0, 0.2, 1.0])
def test_label_dropout_rate_and_no_grad_through_labels(diffusion, p):
    model = RecordingModel()
    y = torch.zeros(20_000, dtype=torch.long)
    loss = diffusion.training_loss(model, torch.zeros(20_000, 2), y, null_label=3, p_uncond=p,
                                   generator=torch.Generator().manual_seed(0))
    dropped = (model.seen_y == 3).float().mean().item()
    assert abs(dropped - p) < 0.01
    assert set(model.seen_y.unique().tolist()) <= {0, 3}
    loss.backward()
    assert model.w.grad is not None and not model.seen_y.requires_grad


def test_a_suspended_or_closed_frame_stream_leaves_no_inference_mode_behind():
    """The app may stop reading a stream midway (a visitor leaves): the thread that read it must
    still be able to train (autograd) afterwards."""
    import torch
    from diffusion.core.gaussian import GaussianDiffusion
    from diffusion.models.mlp import PointDenoiser
    from diffusion.core.sampling import sample_frames
    model = PointDenoiser(num_classes=3, width=16, depth=1).eval()
    frames = sample_frames(model, GaussianDiffusion.from_schedule("linear", 100), torch.tensor([0, 3]), (2,), 3,
                           guidance=2.0, steps=10, generator=torch.Generator().manual_seed(0))
    next(frames)
    assert not torch.is_inference_mode_enabled()  # while suspended
    frames.close()
    assert not torch.is_inference_mode_enabled()  # and after being closed
    w = torch.ones(2, requires_grad=True)
    (w * 2).sum().backward()
    assert w.grad.tolist() == [2.0, 2.0]
