"""diffusion.core.solvers against diffusers' DPMSolverMultistepScheduler / UniPCMultistepScheduler.

The reference runs diffusers on our cosine betas, on exactly our timesteps (the respaced chain's
space_timesteps(1000, S), visited in reverse, then sigma = 0), with the same start noise, the same
deterministic fake eps model and, for the SDE variant, the same noise (`variance_noise`).

Precision: diffusers builds its tables in float32 (float32 betas, cumprod and sigmas). For the
float64 check its per-step sigmas are replaced by sqrt((1 - ab) / ab) of our float64 table (the
values it would use, at full precision; checked to agree with its own to float32 precision).
UniPC then agrees to ~1e-15. DPMSolverMultistepScheduler.step still computes
`coef * sample.to(float32)` in float32, so DPM trajectories agree to ~1e-7 relative to |x|
(|x| reaches ~2e4 without clipping, where ab(999) ~ 2.4e-9). A second check runs stock float32
diffusers against our solver in float32 on diffusers' own alpha_bar table.
"""
import math

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler, DPMSolverMultistepScheduler, UniPCMultistepScheduler

from diffusion.core.gaussian import GaussianDiffusion
from diffusion.core.schedules import make_betas, space_timesteps
from diffusion.core.solvers import SOLVERS, MultistepSolver, v_to_eps

torch.set_num_threads(1)

BETAS = make_betas("cosine", 1000)
AC = np.cumprod(1.0 - BETAS)
SHAPES = {"points": (4, 2), "images": (2, 1, 28, 28)}
STEPS = (5, 10, 20, 50)


def fake_eps(x: torch.Tensor, t: int) -> torch.Tensor:
    """A deterministic, smooth, nonlinear stand-in for the network."""
    t = float(t)
    return 0.3 * x + 0.001 * t + 0.1 * torch.tanh(x) + 0.05 * torch.sin(3.0 * x + t / 100.0)


def our_timesteps(S: int) -> list[int]:
    return space_timesteps(1000, S)[::-1]  # the respaced chain's timesteps, in visiting order


def make_scheduler(name: str, clip: bool):
    kw = dict(trained_betas=BETAS, prediction_type="epsilon", solver_order=2, thresholding=clip,
              sample_max_value=1.0, lower_order_final=True, final_sigmas_type="zero")
    if name == "unipc":
        return UniPCMultistepScheduler(solver_type="bh2", predict_x0=True, **kw)
    algo = {"dpm++2m": "dpmsolver++", "dpm++2m-sde": "sde-dpmsolver++"}[name]
    return DPMSolverMultistepScheduler(algorithm_type=algo, solver_type="midpoint", **kw)


def set_our_timesteps(sched, ts: list[int]) -> None:
    """Make diffusers visit exactly `ts`, then sigma = 0. DPM takes custom timesteps; UniPC's
    set_timesteps has no such argument and no spacing visits t = 0, so its tables are overwritten
    with what set_timesteps would have computed for these timesteps."""
    if isinstance(sched, DPMSolverMultistepScheduler):
        sched.set_timesteps(timesteps=ts)
    else:
        sched.set_timesteps(len(ts))
        ac = sched.alphas_cumprod.numpy()
        sig = np.interp(ts, np.arange(len(ac)), ((1 - ac) / ac) ** 0.5)
        sched.timesteps = torch.tensor(ts)
        sched.sigmas = torch.from_numpy(np.append(sig, 0.0).astype(np.float32))
    assert sched.timesteps.tolist() == ts and float(sched.sigmas[-1]) == 0.0


def run_diffusers(name, ts, x_T, noises, clip, float64_tables=True):
    sched = make_scheduler(name, clip)
    set_our_timesteps(sched, ts)
    if float64_tables:
        sig64 = np.append(np.sqrt((1 - AC[ts]) / AC[ts]), 0.0)
        # float32 values of the same table (1 - ab is float32-rounded: sigma(t=0) is off by 3e-4)
        np.testing.assert_allclose(1 / (1 + sched.sigmas.double().numpy() ** 2), 1 / (1 + sig64 ** 2), rtol=1e-4)
        sched.sigmas = torch.from_numpy(sig64)
    x, xs, x0s = x_T, [x_T], []
    for k, t in enumerate(sched.timesteps):
        eps = fake_eps(x, int(t))
        # diffusers' thresholding reshapes to (B, C, -1), which fails for (B, 2): add a trailing dim.
        xin, ein = (x[..., None], eps[..., None]) if x.dim() == 2 else (x, eps)
        kw = {"variance_noise": noises[k].reshape(xin.shape)} if name == "dpm++2m-sde" else {}
        x = sched.step(ein, t, xin, **kw).prev_sample.reshape(x_T.shape)
        x0s.append(sched.model_outputs[-1].reshape(x_T.shape))  # the (thresholded) data prediction
        xs.append(x)
    return xs, x0s


def run_ours(name, ts, x_T, noises, clip, alphas_cumprod=AC):
    solver = MultistepSolver(name, alphas_cumprod, ts, clip_x0=clip)
    state = solver.new_state()
    x, xs, x0s = x_T, [x_T], []
    for k, t in enumerate(ts):
        x, x0 = solver.step(fake_eps(x, t), k, x, noises[k] if solver.needs_noise(k) else None, state)
        assert x.dtype == x_T.dtype and x.shape == x_T.shape
        xs.append(x)
        x0s.append(x0)
    return xs, x0s


def inputs(shape, S, seed, dtype=torch.float64):
    """Start noise and per-step noise drawn in float32 (so diffusers' float32 casts are exact)."""
    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn(SHAPES[shape], generator=g)
    noises = [torch.randn(SHAPES[shape], generator=g) for _ in range(S)]
    return x_T.to(dtype), [n.to(dtype) for n in noises]


def assert_trajectories_close(ours, ref, **tol):
    for part, a, b in (("x", ours[0], ref[0]), ("x0", ours[1], ref[1])):
        assert len(a) == len(b)
        for k, (p, q) in enumerate(zip(a, b)):
            torch.testing.assert_close(p, q, **tol, msg=lambda m: f"{part}[{k}]: {m}")


@pytest.mark.parametrize("clip", [True, False], ids=["clip", "noclip"])
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("S", STEPS)
@pytest.mark.parametrize("name", SOLVERS)
def test_trajectory_matches_diffusers_float64(name, S, shape, clip):
    ts = our_timesteps(S)
    x_T, noises = inputs(shape, S, seed=S)
    ours = run_ours(name, ts, x_T, noises, clip)
    ref = run_diffusers(name, ts, x_T, noises, clip)
    if name == "unipc":
        tol = dict(atol=1e-12, rtol=1e-12)
    else:  # diffusers' DPM multiplies the float32-cast sample by its coefficient in float32
        tol = dict(atol=1e-5, rtol=0.0) if clip else dict(atol=1e-5, rtol=1e-6)
    assert_trajectories_close(ours, ref, **tol)
    if clip:
        assert all(x0.abs().max() <= 1.0 for x0 in ours[1])
    else:  # the near-zero ab(999): the first x0 is (x - sigma eps) / 4.9e-5
        assert ours[1][0].abs().max() > 1e3


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("name", SOLVERS)
def test_trajectory_matches_stock_float32_diffusers(name, shape):
    """Unmodified float32 diffusers; our solver in float32 on diffusers' own (float32) alpha_bar."""
    S = 10
    ts = our_timesteps(S)
    x_T, noises = inputs(shape, S, seed=7, dtype=torch.float32)
    ac32 = make_scheduler(name, True).alphas_cumprod.double().numpy()
    ours = run_ours(name, ts, x_T, noises, True, alphas_cumprod=ac32)
    ref = run_diffusers(name, ts, x_T, noises, True, float64_tables=False)
    assert_trajectories_close(ours, ref, atol=5e-5, rtol=0.0)


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize("clip", [True, False])
def test_exact_denoiser_of_one_point_returns_that_point(name, clip):
    """eps = (x - sqrt(ab) x0*) / sqrt(1 - ab) makes every x0 prediction x0*. All three solvers are
    exact for a constant data prediction: the ODE solvers keep x_k = alpha_k x0* + sigma_k eps_0."""
    S = 10
    ts = our_timesteps(S)
    x0_star = torch.tensor([0.6, -0.3], dtype=torch.float64).expand(4, 2)
    x_T, noises = inputs("points", S, seed=3)
    solver = MultistepSolver(name, AC, ts, clip_x0=clip)
    eps0 = (x_T - AC[ts[0]] ** 0.5 * x0_star) / (1 - AC[ts[0]]) ** 0.5
    state, x = solver.new_state(), x_T
    for k, t in enumerate(ts):
        ab = AC[t]
        if name != "dpm++2m-sde":
            torch.testing.assert_close(x, ab ** 0.5 * x0_star + (1 - ab) ** 0.5 * eps0, atol=1e-9, rtol=0)
        eps = (x - ab ** 0.5 * x0_star) / (1 - ab) ** 0.5
        x, x0 = solver.step(eps, k, x, noises[k] if solver.needs_noise(k) else None, state)
        torch.testing.assert_close(x0, x0_star, atol=1e-9, rtol=0)
    torch.testing.assert_close(x, x0_star, atol=1e-9, rtol=0)


@pytest.mark.parametrize("clip", [True, False])
def test_first_order_steps_equal_the_projects_ddim(clip):
    """Step 0 and the last step are first order, where DPM-Solver++ is DDIM (eta = 0)."""
    S = 6
    chain = GaussianDiffusion(AC).respace(S)
    ts = chain.timesteps[::-1]
    x_T, _ = inputs("images", S, seed=5)
    for k in (0, S - 1):
        x = x_T * (AC[ts[k]] ** 0.5 + 0.5)  # some x at that step
        eps = fake_eps(x, ts[k])
        ref = chain.step(eps, S - 1 - k, x, None, "ddim", 0.0, clip)
        for name in ("dpm++2m", "unipc"):
            solver = MultistepSolver(name, AC, ts, clip)
            state = solver.new_state()
            if k > 0:  # the last step is first order whatever the history
                state.x0s, state.last_x, state.last_order = [x * 0.1], x * 0.9, 2
            x_prev, x0 = solver.step(eps, k, x, None, state)
            torch.testing.assert_close(x0, ref.pred_x0, atol=1e-12, rtol=1e-12)
            torch.testing.assert_close(x_prev, ref.prev_sample, atol=1e-9, rtol=1e-9)


def test_orders_noise_and_one_step():
    solver = MultistepSolver("dpm++2m-sde", AC, our_timesteps(5))
    assert [solver.order(k) for k in range(5)] == [1, 2, 2, 2, 1]
    assert [solver.needs_noise(k) for k in range(5)] == [True] * 4 + [False]
    assert not any(MultistepSolver(n, AC, our_timesteps(5)).needs_noise(0) for n in ("dpm++2m", "unipc"))
    with pytest.raises(ValueError):
        solver.step(torch.zeros(2, 2), 0, torch.zeros(2, 2), None, solver.new_state())
    for name in SOLVERS:  # S = 1: one jump from t = 999 to the (clipped) x0 prediction
        one = MultistepSolver(name, AC, [999])
        x = torch.randn(2, 2, generator=torch.Generator().manual_seed(0))
        x_prev, x0 = one.step(fake_eps(x, 999), 0, x, None, one.new_state())
        assert torch.equal(x_prev, x0) and x0.abs().max() <= 1
    for bad in ([0, 999], [999, 999], [1000, 0], []):
        with pytest.raises(ValueError):
            MultistepSolver("unipc", AC, bad)
    with pytest.raises(ValueError):
        MultistepSolver("euler", AC, [999, 0])


def test_float32_tensors_stay_float32():
    ts = our_timesteps(5)
    x_T, noises = inputs("images", 5, seed=1, dtype=torch.float32)
    for name in SOLVERS:
        xs, x0s = run_ours(name, ts, x_T, noises, True)
        assert all(t.dtype == torch.float32 for t in xs + x0s)


def test_v_to_eps_inverts_diffusers_get_velocity():
    sched = DDPMScheduler(trained_betas=BETAS, prediction_type="v_prediction")
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(4, 1, 28, 28, generator=g) * 2 - 1
    noise = torch.randn(4, 1, 28, 28, generator=g)
    t = torch.tensor([0, 250, 700, 999])
    v = sched.get_velocity(x0, noise, t)  # v = sqrt(ab) eps - sqrt(1 - ab) x0
    x_t = sched.add_noise(x0, noise, t)
    ab = sched.alphas_cumprod[t].reshape(4, 1, 1, 1)
    torch.testing.assert_close(v_to_eps(v, x_t, ab), noise, atol=1e-5, rtol=1e-5)
    # scalar alpha_bar, float64
    x0d, nd = x0.double(), noise.double()
    a = float(AC[400])
    vd, xd = math.sqrt(a) * nd - math.sqrt(1 - a) * x0d, math.sqrt(a) * x0d + math.sqrt(1 - a) * nd
    torch.testing.assert_close(v_to_eps(vd, xd, a), nd, atol=1e-12, rtol=1e-12)


# -- through the one sampling loop ------------------------------------------------------------
def test_the_loop_steps_a_solver_in_order_with_its_noise():
    """sample_frames with a solver = the solver stepped by hand over the respaced chain's table,
    the SDE variant drawing its noise from the run's generator after x_T."""
    from diffusion.core.sampling import sample

    class Smooth(torch.nn.Module):
        def forward(self, x, t, y):
            return 0.3 * x + 0.1 * torch.tanh(x) + 1e-4 * t.float()[:, None] + 0.05 * y.float()[:, None]

    chain = GaussianDiffusion.from_schedule("cosine", 1000).respace(10)
    y = torch.tensor([0, 1, 2, 1])
    for name in SOLVERS:
        traj = sample(Smooth(), GaussianDiffusion.from_schedule("cosine", 1000), y, (2,), 3, guidance=1.0,
                      steps=10, sampler=name, generator=torch.Generator().manual_seed(5))
        gen = torch.Generator().manual_seed(5)
        x = torch.randn(4, 2, generator=gen)
        solver = MultistepSolver(name, chain.alphas_cumprod_f64, range(9, -1, -1))
        state = solver.new_state()
        for k in range(10):
            eps = Smooth()(x, chain.model_timesteps[9 - k].expand(4), y)
            noise = torch.randn(x.shape, generator=gen) if solver.needs_noise(k) else None
            torch.testing.assert_close(traj.xs[k], x)
            x, x0 = solver.step(eps, k, x, noise, state)
            torch.testing.assert_close(traj.x0s[k], x0)
        torch.testing.assert_close(traj.samples, x)


def test_ten_solver_steps_of_a_perfect_model_land_on_the_pattern():
    """The exact denoiser of 300 points per pattern (the shipped points schedule): ten solver steps
    put the samples on the asked pattern (conditional, s = 1), as 50 DDIM steps do."""
    from diffusion.guided_sampler import GuidedSampler
    from diffusion.worlds import get_world
    exact, world = GuidedSampler.load("points").exact(300, 0), get_world("points")
    for name in SOLVERS:
        x = exact.to_data(exact.sample("moons", 1.0, 10, name, 0.0, 300, 0, keep_trajectory=False).samples)
        assert world.measure("moons", x)["distance"] < 0.005, name
