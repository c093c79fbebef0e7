"""Guidance methods through the Python API (GuidedSampler): every method on both worlds, cfg as
before, explicit models for autoguidance and classifier guidance, the exact reference, and the
project's error format for bad methods and parameters."""
import pytest
import torch

from diffusion.core.guidance import METHODS
from diffusion.guided_sampler import GuidedSampler
from diffusion.inputs import METHOD_PARAMS, PUBLIC_PARAMS, method_args
from diffusion.models.checkpoint import CheckpointError


@pytest.fixture(scope="module")
def points():
    return GuidedSampler.load("points")


@pytest.fixture(scope="module")
def mnist():
    return GuidedSampler.load("mnist")


class TinyClassifier(torch.nn.Module):
    """A noise-aware classifier stand-in: logits linear in x_t (and t), differentiable."""

    def __init__(self, dims, classes):
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(dims, classes)

    def forward(self, x, t):
        return self.lin(x.flatten(1)) + 1e-4 * t.float()[:, None]


def explicit_models(sampler, method):
    """autoguidance: the network itself as its own weak model; classifier: a tiny linear one."""
    if method == "autoguidance":
        return {"weak_model": sampler.checkpoint.model}
    if method == "classifier":
        dims = int(torch.tensor(sampler.world.sample_shape).prod())
        return {"classifier": TinyClassifier(dims, len(sampler.checkpoint.config.labels))}
    return {}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("world", ["points", "mnist"])
def test_every_method_samples_on_both_worlds(method, world, points, mnist):
    s = points if world == "points" else mnist
    label = s.checkpoint.config.labels[0]
    traj = s.sample(label, 2.0, 3, "ddim", 0.0, 4, 0, keep_trajectory=False, method=method,
                    **explicit_models(s, method))
    assert traj.samples.shape == (4, *s.world.sample_shape) and torch.isfinite(traj.samples).all()


def test_cfg_is_the_default_and_unchanged(points):
    a = points.sample("spiral", 2.0, 5, "ddpm", 0.0, 20, 3)
    b = points.sample("spiral", 2.0, 5, "ddpm", 0.0, 20, 3, method="cfg")
    assert torch.equal(a.xs, b.xs) and torch.equal(a.x0s, b.x0s)
    c = points.sample("spiral", 2.0, 5, "ddpm", 0.0, 20, 3, method="rescale", phi=0.5)
    assert not torch.equal(a.samples, c.samples)


def test_frames_take_the_method_and_its_parameters(points):
    frames = list(points.frames("moons", 2.0, 4, "ddim", 0.0, 10, 0, method="interval", sigma_hi=float("inf")))
    assert len(frames) == 5


def test_shipped_models_or_a_clear_error(points):
    """autoguidance and classifier load the world's shipped models: they run once those are
    shipped, and until then the error names the missing checkpoint."""
    for method in ("autoguidance", "classifier"):
        try:
            points.sample("spiral", 2.0, 2, "ddim", 0.0, 4, 0, method=method)
        except CheckpointError as e:
            assert "checkpoint" in str(e) and "points" in str(e)


def test_on_the_exact_reference_classifier_guidance_is_cfg_and_autoguidance_runs(points):
    exact = points.exact(30, 0)
    runs = [exact.sample(["spiral", "moons"], 2.0, 5, "ddim", 0.0, 2, 1, method=m) for m in ("cfg", "classifier")]
    torch.testing.assert_close(runs[1].xs, runs[0].xs, atol=1e-5, rtol=0)
    auto = exact.sample("spiral", 2.0, 5, "ddim", 0.0, 6, 1, method="autoguidance")
    assert torch.isfinite(auto.samples).all()
    weak = exact.helper("weak_model")
    assert len(weak.pool) == 3 * 7 and torch.equal(weak.pool[:7], exact.checkpoint.model.pool[:7])


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="cfg++"), "method='cfg++' is not allowed; allowed: cfg, rescale, interval"),
    (dict(method="rescale", phi=1.5), "phi=1.5 is not allowed; allowed: a number in 0..1"),
    (dict(method="cfg", phi=0.5), "phi=0.5 is not allowed; allowed: only with method=rescale"),
    (dict(method="apg", apg_eta=-1), "apg_eta=-1 is not allowed; allowed: a number in 0..1"),
    (dict(method="apg", momentum=1.0), "momentum=1.0 is not allowed; allowed: a number in -1..1, excluding -1 and 1"),
    (dict(method="apg", space="v"), "space='v' is not allowed; allowed: x0, eps"),
    (dict(method="interval", sigma_hi=0), "sigma_hi=0 is not allowed; allowed: a number > 0, or inf (no upper end)"),
    (dict(method="interval", sigma_lo=5.0), "sigma_lo=5.0 is not allowed; allowed: below sigma_hi=2.9"),
    (dict(method="cfg_zero_star", zero_init_steps=1.5), "zero_init_steps=1.5 is not allowed; allowed: an integer >= 0"),
    (dict(method="rescale", guidance_rescale=0.5), "parameter='guidance_rescale' is not allowed"),
])
def test_bad_methods_and_parameters_are_value_errors_naming_the_field(points, kwargs, message):
    with pytest.raises(ValueError) as e:
        points.sample("spiral", 2.0, 2, "ddim", 0.0, 4, 0, **kwargs)
    assert str(e.value).startswith(message)


def test_public_parameters_come_from_the_core():
    assert list(METHOD_PARAMS["rescale"]) == ["phi"] and METHOD_PARAMS["apg"]["eta"].name == "apg_eta"
    assert "weak_model" not in PUBLIC_PARAMS and "classifier" not in PUBLIC_PARAMS  # models: not inputs
    assert method_args("rescale") == ("rescale", (("phi", 0.7),))
    assert method_args("rescale", {"phi": 0.7}) == method_args("RESCALE", {"apg_eta": None})
    assert method_args("cfg", {"phi": 0.1}, strict=False) == ("cfg", ())
