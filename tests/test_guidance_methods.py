"""Guidance methods: each against its diffusers guider on the same eps inputs (or where and why our
convention differs), cfg bit for bit as before the methods, exact classifier guidance = exact CFG,
every method with every sampler, and the checks of names and parameters."""
import logging
import math
import re

import pytest
import torch

from conftest import CountingModel
from diffusion.core import sampling
from diffusion.core.gaussian import GaussianDiffusion
from diffusion.core.guidance import (METHODS, PARAMS, GuidedDenoiser, guidance_rows, make_guider, mix)
from diffusion.core.guiders import Step
from diffusion.core.sampling import SAMPLERS, sample
from diffusion.models.exact import ExactClassifier, ExactDenoiser
from diffusion.models.mlp import PointDenoiser

logging.getLogger("diffusers.guiders.guider_utils").setLevel(logging.ERROR)  # "experimental" notice
guiders = pytest.importorskip("diffusers.guiders")
from diffusers.guiders.adaptive_projected_guidance import MomentumBuffer  # noqa: E402

SHAPES = [(6, 2), (3, 1, 4, 4)]  # points and (tiny) images


def eps_pair(shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    c = torch.randn(shape, generator=g, dtype=dtype)
    return c, 0.6 * c + 0.5 * torch.randn(shape, generator=g, dtype=dtype)  # correlated, as real ones


def step_at(x, k=3, S=10, alpha_bar=0.4, y=None):
    y = torch.zeros(len(x), dtype=torch.long) if y is None else y
    return Step(k, S, S - 1 - k, torch.full((len(x),), 500), alpha_bar, x, y, 3, bool((y == 3).all()))


def theirs(guider, cond, uncond, k=3, S=10):
    guider.set_state(step=k, num_inference_steps=S, timestep=torch.tensor(500))
    return guider.forward(cond, uncond).pred


def ours(method, s, c, u, step=None, state=None, **params):
    g = make_guider(method, **params)
    step = step or step_at(c)
    which = g.branches(s, step)  # give the method only the branches it asked for
    c_, u_ = (c if which in ("cond", "both") else None), (u if which in ("uncond", "both") else None)
    return g.combine(s, c_, u_, step, g.new_state(None) if state is None else state)


# -- each method against diffusers ---------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("s", [0.0, 0.5, 1.0, 2.5, 7.5])
def test_cfg_matches_diffusers(shape, s):
    c, u = eps_pair(shape)
    ref = theirs(guiders.ClassifierFreeGuidance(guidance_scale=s), c, u)
    torch.testing.assert_close(ours("cfg", s, c, u), ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("s,phi", [(0.0, 0.7), (2.5, 0.7), (7.5, 0.7), (4.0, 0.3), (4.0, 1.0), (1.0, 0.7)])
def test_rescale_matches_diffusers_guidance_rescale(shape, s, phi):
    """Same std (unbiased, per sample over all non-batch dims). At s = 1 diffusers multiplies
    eps_c by std/std = 1; we return eps_c without the round trip."""
    c, u = eps_pair(shape)
    ref = theirs(guiders.ClassifierFreeGuidance(guidance_scale=s, guidance_rescale=phi), c, u)
    torch.testing.assert_close(ours("rescale", s, c, u, phi=phi), ref, atol=1e-6, rtol=0)


def test_rescale_of_a_flat_cfg_eps_is_left_alone():
    """Our one departure: where std(eps_cfg) = 0 (a point with equal coordinates) diffusers
    divides by zero; we keep eps_cfg."""
    c, u = torch.tensor([[1.0, 1.0]]), torch.tensor([[0.5, 0.5]])
    assert torch.isnan(theirs(guiders.ClassifierFreeGuidance(guidance_scale=3.0, guidance_rescale=0.7), c, u)).any()
    torch.testing.assert_close(ours("rescale", 3.0, c, u), torch.lerp(u, c, 3.0))


@pytest.mark.parametrize("start,stop", [(0.0, 1.0), (0.2, 0.7), (0.35, 0.35), (0.5, 1.0), (0.0, 0.25)])
@pytest.mark.parametrize("S", [7, 10])
def test_interval_start_stop_match_diffusers_step_fractions(start, stop, S):
    """diffusers guides step k of S iff int(start S) <= k < int(stop S), else returns pred_cond;
    ours with the sigma range opened up (0, inf] is the same at every step."""
    c, u = eps_pair((4, 2))
    for k in range(S):
        ref = theirs(guiders.ClassifierFreeGuidance(guidance_scale=3.0, start=start, stop=stop), c, u, k, S)
        got = ours("interval", 3.0, c, u, step_at(c, k, S), start=start, stop=stop,
                   sigma_lo=0.0, sigma_hi=math.inf)
        torch.testing.assert_close(got, ref, atol=1e-6, rtol=0)


def test_interval_guides_exactly_inside_its_sigma_range_and_calls_once_outside():
    d = GaussianDiffusion.from_schedule("cosine", 100)
    chain = d.respace(20)
    model, y = CountingModel(), torch.tensor([0, 1, 2])
    g = make_guider("interval", sigma_lo=0.5, sigma_hi=3.0)
    den = GuidedDenoiser(model, chain.model_timesteps, y, 3, 2.0, g, chain.alphas_cumprod_f64)
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(0))
    inside = []
    for i in reversed(range(20)):
        before = model.rows
        eps = den(x, i)
        sigma = (1 / chain.alphas_cumprod_f64[i] - 1) ** 0.5
        inside.append(0.5 < sigma <= 3.0)
        t = chain.model_timesteps[i].expand(3)
        c, u = CountingModel()(x, t, y), CountingModel()(x, t, torch.full_like(y, 3))
        torch.testing.assert_close(eps, torch.lerp(u, c, 2.0) if inside[-1] else c)
        assert model.rows - before == (6 if inside[-1] else 3)
    assert any(inside) and not all(inside)


def run_apg_both(shape, s, eta, r, beta, space, dtype=torch.float32, steps=4):
    """Ours over `steps` steps (momentum carries over) against diffusers' APG with
    use_original_formulation=True and guidance_scale = s - 1 (see the test below)."""
    g = guiders.AdaptiveProjectedGuidance(guidance_scale=s - 1, adaptive_projected_guidance_momentum=beta or None,
                                          adaptive_projected_guidance_rescale=r, eta=eta,
                                          use_original_formulation=True)
    g.momentum_buffer = MomentumBuffer(beta) if beta else None  # diffusers makes it in prepare_inputs at step 0
    guider = make_guider("apg", eta=eta, norm_threshold=r, momentum=beta, space=space)
    state = guider.new_state(None)
    for k in range(steps):
        c, u = eps_pair(shape, seed=k, dtype=dtype)
        x = torch.randn(shape, generator=torch.Generator().manual_seed(100 + k), dtype=dtype)
        step = step_at(x, k, steps, alpha_bar=0.3 + 0.1 * k)
        got = guider.combine(s, c, u, step, state)
        if space == "eps":
            ref = theirs(g, c, u, k, steps)
        else:  # diffusers on the x0 predictions, its guided x0 mapped back to eps
            a, sg = step.alpha, step.sigma_vp
            x0 = theirs(g, (x - sg * c) / a, (x - sg * u) / a, k, steps)
            ref = (x - a * x0) / sg
        yield got, ref


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("s,eta,r,beta", [(3.0, 0.0, 0.0, 0.0), (3.0, 0.0, 15.0, -0.5), (5.0, 0.5, 1.0, -0.5),
                                          (2.0, 1.0, 0.5, 0.3), (0.0, 0.0, 15.0, -0.5)])
@pytest.mark.parametrize("space", ["eps", "x0"])
def test_apg_matches_diffusers_original_formulation_at_scale_minus_one(shape, s, eta, r, beta, space):
    """Our APG is the paper's D_c + (s - 1) (d_perp + eta d_par), so that s = 1 is the conditional
    model as in every method here. diffusers' default ("native") formulation is instead
    D_u + s (d_perp + eta d_par), which for eta < 1 is not CFG-consistent: at scale 1 it is not
    D_c (and diffusers then special-cases scale 1 to D_c). Its use_original_formulation=True is
    D_c + w (...), i.e. ours with w = s - 1. In the "x0" space (the paper's and our default) the
    same guider runs on x0(eps) and the result is mapped back; float64 there, since at high noise
    x0 = (x_t - sigma eps) / alpha magnifies float32 rounding."""
    dtype = torch.float64 if space == "x0" else torch.float32
    for got, ref in run_apg_both(shape, s, eta, r, beta, space, dtype):
        torch.testing.assert_close(got, ref, atol=1e-6, rtol=0)


def test_apg_without_projection_threshold_or_momentum_is_cfg_as_diffusers_native():
    c, u = eps_pair((5, 2))
    native = theirs(guiders.AdaptiveProjectedGuidance(guidance_scale=3.0, adaptive_projected_guidance_rescale=0.0,
                                                      eta=1.0), c, u)
    got = ours("apg", 3.0, c, u, eta=1.0, norm_threshold=0.0, momentum=0.0, space="eps")
    torch.testing.assert_close(got, native, atol=1e-6, rtol=0)
    torch.testing.assert_close(got, torch.lerp(u, c, 3.0), atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("s", [0.0, 1.0, 2.5, 7.5])
@pytest.mark.parametrize("k", [1, 2, 5])
def test_cfg_zero_star_matches_diffusers_after_zero_init(shape, s, k):
    c, u = eps_pair(shape)
    ref = theirs(guiders.ClassifierFreeZeroStarGuidance(guidance_scale=s, zero_init_steps=1), c, u, k)
    torch.testing.assert_close(ours("cfg_zero_star", s, c, u, step_at(c, k)), ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("n", [1, 3])
def test_cfg_zero_star_zero_init_zeroes_the_velocity_where_diffusers_zeroes_eps(n):
    """Where we differ: diffusers' guider zeroes the model's prediction in the first
    zero_init_steps steps; the paper's prediction is a flow-matching velocity v = eps - x0, ours
    is eps. We zero v (eps = x0 = x_t / (alpha + sigma)), which keeps the flow-matching sample
    x_t / (alpha + sigma) still: DDIM maps it onto itself. The same steps are zero-init. (float64:
    at the first step x0 = (x_t - sigma eps) / alpha magnifies float32 rounding 1e3 times.)"""
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    d = GaussianDiffusion.from_schedule("cosine", 100).respace(10)
    for k in range(6):
        i = 9 - k
        ab = d.alphas_cumprod_f64[i]
        c, u = eps_pair((4, 2), seed=k, dtype=torch.float64)
        ref = theirs(guiders.ClassifierFreeZeroStarGuidance(guidance_scale=3.0, zero_init_steps=n), c, u, k)
        got = ours("cfg_zero_star", 3.0, c, u, step_at(x, k, 10, ab), zero_init_steps=n)
        if k >= n:
            torch.testing.assert_close(got, ref, atol=1e-6, rtol=0)
            continue
        assert torch.count_nonzero(ref) == 0
        a, sg = ab ** 0.5, (1 - ab) ** 0.5
        torch.testing.assert_close(got - (x - sg * got) / a, torch.zeros_like(x), atol=1e-5, rtol=0)  # v = 0
        prev = d.step(got, i, x, None, "ddim", clip=False).prev_sample
        a2, s2 = d._ab_prev[i] ** 0.5, (1 - d._ab_prev[i]) ** 0.5
        torch.testing.assert_close(prev / (a2 + s2), x / (a + sg), atol=1e-5, rtol=0)


def test_cfg_zero_star_zero_init_steps_make_no_network_call():
    d = GaussianDiffusion.from_schedule("cosine", 100).respace(10)
    model = CountingModel()
    den = GuidedDenoiser(model, d.model_timesteps, torch.tensor([0, 1]), 3, 2.0,
                         make_guider("cfg_zero_star", zero_init_steps=2), d.alphas_cumprod_f64)
    x = torch.randn(2, 2, generator=torch.Generator().manual_seed(0))
    rows = []
    for i in reversed(range(10)):
        den(x, i)
        rows.append(model.rows)
    assert rows[:3] == [0, 0, 4]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("s", [0.0, 1.0, 2.0, 3.5])
def test_autoguidance_matches_diffusers_with_the_weak_prediction_as_uncond(shape, s):
    """diffusers' AutoGuidance makes its weak prediction by skipping layers of the same model; the
    mix is CFG's with that prediction in the uncond slot. Ours takes the weak model itself."""
    c, w = eps_pair(shape)
    weak = lambda x, t, y: w  # noqa: E731
    ref = theirs(guiders.AutoGuidance(guidance_scale=s, auto_guidance_layers=0, dropout=1.0), c, w)
    g = make_guider("autoguidance", weak_model=weak)
    step = step_at(c)
    which = g.branches(s, step)
    got = g.combine(s, c if which == "cond" else None, None, step, g.new_state(torch.zeros(10, dtype=torch.long)))
    torch.testing.assert_close(got, ref, atol=1e-6, rtol=0)


def test_autoguidance_calls_the_weak_model_with_the_same_labels():
    main, weak = CountingModel(), CountingModel()
    y = torch.tensor([0, 1, 3])
    times = torch.tensor([10, 20, 30])
    den = GuidedDenoiser(main, times, y, 3, 2.0, make_guider("autoguidance", weak_model=weak))
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(0))
    eps = den(x, 1)
    assert (main.rows, weak.rows) == (3, 3)
    t = times[1].expand(3)
    torch.testing.assert_close(eps, torch.lerp(CountingModel()(x, t, y), CountingModel()(x, t, y), 2.0))


# -- exact classifier guidance = exact CFG ------------------------------------------------------

def exact_pair():
    g = torch.Generator().manual_seed(0)
    data = torch.rand(24, 2, generator=g, dtype=torch.float64) * 2 - 1
    labels = torch.arange(24) % 3
    labels[:2] = 0  # unequal class shares: the prior matters
    d = GaussianDiffusion.from_schedule("cosine", 100)
    return ExactDenoiser(data, labels, d.alphas_cumprod_f64, 3), d


@pytest.mark.parametrize("t", [0, 10, 40, 70, 99])
@pytest.mark.parametrize("s", [0.5, 1.0, 2.0, 4.0])
def test_exact_classifier_guidance_equals_exact_cfg(t, s):
    """grad log p(y | x_t) = grad log p(x_t | y) - grad log p(x_t) = -(eps_c - eps_u) / sqrt(1 - ab)
    for the exact models, so eps_u - s sqrt(1 - ab) grad log p(y | x_t) = eps_u + s (eps_c - eps_u)."""
    exact, d = exact_pair()
    y = torch.tensor([0, 1, 2, 0, 2])
    times = torch.full((1,), t)
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(t), dtype=torch.float64)
    ab = d.alphas_cumprod_f64[t:t + 1]
    cls = make_guider("classifier", classifier=ExactClassifier(exact))
    with torch.inference_mode():  # as in the sampling loop
        cfg = GuidedDenoiser(exact, times, y, 3, s, "cfg", ab)(x, 0)
        cg = GuidedDenoiser(exact, times, y, 3, s, cls, ab)(x, 0)
    torch.testing.assert_close(cg, cfg, atol=1e-5, rtol=0)


def test_exact_classifier_is_bayes_over_the_pool():
    exact, d = exact_pair()
    x, t = torch.randn(4, 2, dtype=torch.float64), torch.tensor([30])
    ab = d.alphas_cumprod_f64[30]
    lik = torch.exp(-((x[:, None] - ab ** 0.5 * exact.pool[None]) ** 2).sum(-1) / (2 * (1 - ab)))  # (4, N)
    joint = torch.stack([lik[:, exact.slices[k]].sum(1) for k in range(3)], 1)  # N_y/N * p(x|y), times N
    torch.testing.assert_close(torch.softmax(ExactClassifier(exact)(x, t), 1), joint / joint.sum(1, keepdim=True))


def test_exact_classifier_guided_run_equals_exact_cfg_run():
    exact, d = exact_pair()
    y = torch.tensor([0, 1, 2, 3])  # a null row stays unconditional in both
    x_T = torch.randn(4, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    runs = [sample(exact, d, y, (2,), 3, guidance=2.0, steps=10, sampler="ddim", x_T=x_T.clone(),
                   generator=torch.Generator(), method=m)
            for m in ("cfg", make_guider("classifier", classifier=ExactClassifier(exact)))]
    torch.testing.assert_close(runs[1].xs, runs[0].xs, atol=1e-5, rtol=0)


# -- cfg bit for bit, every method with every sampler -----------------------------------------

class BeforeMethods:
    """`GuidedDenoiser` as it was at the commit before the guidance methods (cfg only)."""

    def __init__(self, model, times, y, null_label, guidance, *unused):
        self.model, self.y, self.null_label, self.guidance = model, y, null_label, float(guidance)
        self.rows = guidance_rows(y, null_label, guidance)
        self.times = times
        self.grid = model.embed_grid(self.times) if hasattr(model, "embed_grid") else None

    def __call__(self, x, i):
        if self.grid is None:
            t = self.times[i].expand(len(self.y))
            k = len(self.rows) // len(self.y)
            return mix(self.model(torch.cat([x] * k), torch.cat([t] * k), self.rows), len(self.y), self.guidance)
        return mix(self.model.trunk(x, [g[i].index_select(0, self.rows) for g in self.grid]), len(self.y),
                   self.guidance)


def tiny_point_model(seed=0, width=16):
    torch.manual_seed(seed)
    return PointDenoiser(3, width=width, depth=2).eval()


@pytest.mark.parametrize("sampler", ["ddpm", "dpm++2m"])
@pytest.mark.parametrize("s", [0.0, 1.0, 3.0])
@pytest.mark.parametrize("labels", [[0, 1, 2, 3], [3, 3, 3, 3]])
@pytest.mark.parametrize("model", ["embed/trunk", "plain"])
def test_cfg_is_bit_for_bit_what_it_was(monkeypatch, sampler, s, labels, model):
    net = tiny_point_model() if model == "embed/trunk" else CountingModel()
    d = GaussianDiffusion.from_schedule("cosine", 100)
    kw = dict(guidance=s, steps=8, sampler=sampler, generator=None)
    y = torch.tensor(labels)
    runs = []
    for patch in (False, True):
        if patch:
            monkeypatch.setattr(sampling, "GuidedDenoiser", BeforeMethods)
        kw["generator"] = torch.Generator().manual_seed(4)
        runs.append(sample(net, d, y, (2,), 3, **kw))
    assert torch.equal(runs[0].xs, runs[1].xs) and torch.equal(runs[0].x0s, runs[1].x0s)


def method_guider(method):
    if method == "autoguidance":
        return make_guider(method, weak_model=tiny_point_model(seed=1, width=8))
    if method == "classifier":
        exact, _ = exact_pair()
        return make_guider(method, classifier=ExactClassifier(exact))
    return make_guider(method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_method_runs_with_every_sampler(method, sampler):
    net, d = tiny_point_model(), GaussianDiffusion.from_schedule("cosine", 100)
    y = torch.tensor([0, 1, 2, 3])
    kw = dict(guidance=3.0, steps=6, sampler=sampler, method=method_guider(method))
    a = sample(net, d, y, (2,), 3, generator=torch.Generator().manual_seed(2), **kw)
    b = sample(net, d, y, (2,), 3, generator=torch.Generator().manual_seed(2), **kw)  # state is per run
    assert torch.isfinite(a.xs).all() and torch.isfinite(a.x0s).all()
    assert torch.equal(a.xs, b.xs)
    assert not torch.is_inference_mode_enabled()


def test_a_method_name_picks_its_defaults():
    net, d = tiny_point_model(), GaussianDiffusion.from_schedule("cosine", 100)
    runs = [sample(net, d, torch.tensor([0, 1]), (2,), 3, guidance=3.0, steps=5, method=m,
                   generator=torch.Generator().manual_seed(0)) for m in ("rescale", make_guider("rescale", phi=0.7))]
    assert torch.equal(runs[0].xs, runs[1].xs)


# -- the interface: names, parameters, checks -------------------------------------------------

def test_methods_and_their_parameters_are_listed_with_defaults_that_pass_their_checks():
    assert METHODS == ("cfg", "rescale", "interval", "apg", "cfg_zero_star", "autoguidance", "classifier")
    assert {m: sorted(p) for m, p in PARAMS.items()} == {
        "cfg": [], "rescale": ["phi"], "interval": ["sigma_hi", "sigma_lo", "start", "stop"],
        "apg": ["eta", "momentum", "norm_threshold", "space"], "cfg_zero_star": ["zero_init_steps"],
        "autoguidance": ["weak_model"], "classifier": ["classifier"]}
    assert PARAMS["rescale"]["phi"].default == 0.7 and PARAMS["cfg_zero_star"]["zero_init_steps"].default == 1
    assert (PARAMS["apg"]["eta"].default, PARAMS["apg"]["momentum"].default) == (0.0, -0.5)
    for method, params in PARAMS.items():
        models = {k: CountingModel() for k, p in params.items() if p.kind == "model"}  # required, no default
        guider = make_guider(method, **models)
        for p in params.values():
            if p.kind != "model":
                p.check(p.default)
                assert getattr(guider, p.name) == p.default
    assert PARAMS["rescale"]["phi"].allowed() == "a number in [0, 1]"
    assert PARAMS["apg"]["momentum"].allowed() == "a number in (-1, 1)"


FORMAT = re.compile(r"^\S+=.+ is not allowed; allowed: .+$")


@pytest.mark.parametrize("call,needle", [
    (lambda: make_guider("cfg++"), "method='cfg++'"),
    (lambda: make_guider("rescale", phi=1.5), "phi=1.5"),
    (lambda: make_guider("rescale", phi=float("nan")), "phi=nan"),
    (lambda: make_guider("rescale", phi=True), "phi=True"),
    (lambda: make_guider("apg", norm_threshold=float("inf")), "norm_threshold=inf"),
    (lambda: make_guider("rescale", guidance_rescale=0.5), "parameter='guidance_rescale'"),
    (lambda: make_guider("interval", start=1.0), "start=1.0"),
    (lambda: make_guider("interval", start=0.5, stop=0.2), "stop=0.2"),
    (lambda: make_guider("interval", sigma_lo=3.0, sigma_hi=1.0), "sigma_lo=3.0"),
    (lambda: make_guider("apg", momentum=-1.0), "momentum=-1.0"),
    (lambda: make_guider("apg", space="v"), "space='v'"),
    (lambda: make_guider("cfg_zero_star", zero_init_steps=1.5), "zero_init_steps=1.5"),
    (lambda: make_guider("cfg_zero_star", zero_init_steps=-1), "zero_init_steps=-1"),
    (lambda: make_guider("autoguidance"), "weak_model=None"),
    (lambda: make_guider("classifier", classifier="lenet"), "classifier='lenet'"),
    (lambda: list(sampling.sample_frames(CountingModel(), GaussianDiffusion.from_schedule("linear", 10),
                                         torch.tensor([0]), (2,), 3, generator=torch.Generator(),
                                         method="nope")), "method='nope'"),
    (lambda: GuidedDenoiser(CountingModel(), torch.tensor([1]), torch.tensor([0]), 3, 2.0, 7), "method=7"),
])
def test_bad_methods_and_parameters_are_refused_in_the_projects_format(call, needle):
    with pytest.raises(ValueError) as e:
        call()
    assert str(e.value).startswith(needle) and FORMAT.match(str(e.value)), str(e.value)


def test_methods_that_read_alpha_bar_need_the_chain_table():
    with pytest.raises(ValueError, match="alphas_cumprod"):
        GuidedDenoiser(CountingModel(), torch.tensor([1]), torch.tensor([0]), 3, 2.0, "interval")
