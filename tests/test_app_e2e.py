"""End to end: launch the app on a free port and call the three named endpoints with gradio_client,
by the parameter names that the README documents."""
import re

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


METHOD_INPUTS = ["phi", "sigma_lo", "sigma_hi", "start", "stop", "apg_eta", "norm_threshold", "momentum", "space",
                 "zero_init_steps"]


def test_the_api_documents_three_endpoints_with_their_parameter_names(client):
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    names = {k: [p["parameter_name"] for p in v["parameters"]] for k, v in api.items()}
    assert names["/sample_points"] == ["label", "guidance", "steps", "sampler", "seed", "n", "method", *METHOD_INPUTS]
    assert names["/sample_digits"] == ["label", "guidance", "steps", "sampler", "seed", "n", "method", *METHOD_INPUTS]
    assert names["/compare_guidance"] == ["world", "label", "seed", "guidances", "methods", *METHOD_INPUTS]
    optional = {p["parameter_name"]: p["parameter_default"] for p in api["/sample_points"]["parameters"]
                if p["parameter_has_default"]}
    assert optional["method"] == "cfg" and optional["phi"] == 0.7 and optional["space"] == "x0"


def test_sample_points(client):
    image, data = client.predict(label="spiral", guidance=2, steps=50, sampler="ddpm", seed=0, n=500,
                                 api_name="/sample_points")
    x = np.load(data)
    assert x.shape == (500, 2) and x.dtype == np.float32 and np.abs(x).max() < 1.5
    assert Image.open(image).size[0] >= 300


def test_sample_digits(client):
    image, data = client.predict(label="3", guidance=2, steps=20, sampler="ddim", seed=3, n=4,
                                 api_name="/sample_digits")
    x = np.load(data)
    assert x.shape == (4, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert Image.open(image).size[0] >= 4 * 28


def test_compare_guidance(client):
    grid, metrics = client.predict(world="points", label="moons", seed=1, guidances="0, 2",
                                   api_name="/compare_guidance")
    assert [m["guidance"] for m in metrics["metrics"]] == [0, 2]
    assert all(m["distance"] >= 0 and m["spread"] > 0 for m in metrics["metrics"])
    assert Image.open(grid).size[0] > 2 * 200


@pytest.mark.parametrize("method", ["cfg", "rescale", "interval", "apg", "cfg_zero_star", "autoguidance", "classifier"])
def test_every_method_through_the_named_api(client, method):
    """Every method on both worlds; autoguidance and classifier run once their models are
    shipped, and until then the error names the missing checkpoint."""
    for api_name, label, n in (("/sample_points", "spiral", 50), ("/sample_digits", "3", 2)):
        try:
            _, data = client.predict(label=label, guidance=2, steps=3, sampler="ddim", seed=0, n=n, method=method,
                                     api_name=api_name)
        except Exception as e:
            assert method in ("autoguidance", "classifier") and "checkpoint" in str(e), str(e)
            continue
        assert np.load(data).shape[0] == n


def test_method_parameters_and_methods_comparison(client):
    _, a = client.predict(label="moons", guidance=3, steps=5, sampler="ddim", seed=0, n=50, method="rescale", phi=0.2,
                          api_name="/sample_points")
    _, b = client.predict(label="moons", guidance=3, steps=5, sampler="ddim", seed=0, n=50, method="rescale", phi=0.9,
                          api_name="/sample_points")
    assert not np.array_equal(np.load(a), np.load(b))
    grid, metrics = client.predict(world="points", label="moons", seed=1, guidances="0, 2", methods="cfg, interval",
                                   api_name="/compare_guidance")
    assert [(m["method"], m["guidance"]) for m in metrics["metrics"]] == [("cfg", 0), ("cfg", 2), ("interval", 0),
                                                                         ("interval", 2)]
    assert metrics["methods"] == ["cfg", "interval"] and all("coverage" in m for m in metrics["metrics"])
    w, h = Image.open(grid).size
    assert w > 2 * 200 and h > 2 * 200  # two rows (methods) of two columns (scales)


@pytest.mark.parametrize("inputs, message", [
    (dict(method="cfg++"), "method='cfg++' is not allowed; allowed: cfg, rescale"),
    (dict(method="rescale", phi=1.5), "phi=1.5 is not allowed; allowed: a number in 0..1"),
    (dict(method="apg", momentum="a"), "momentum='a' is not allowed"),
])
def test_bad_method_input_is_a_field_named_error(client, inputs, message):
    with pytest.raises(Exception, match=message.replace("+", r"\+").replace(".", r"\.")):
        client.predict(label="spiral", guidance=2, steps=3, sampler="ddim", seed=0, n=10, **inputs,
                       api_name="/sample_points")
    with pytest.raises(Exception, match="methods='cfg, nope' is not allowed"):
        client.predict(world="points", label="moons", seed=1, guidances="1", methods="cfg, nope",
                       api_name="/compare_guidance")


def test_bad_input_comes_back_as_a_readable_error(client):
    with pytest.raises(Exception, match="guidance=25 is not allowed; allowed: a number in 0..10"):
        client.predict(label="spiral", guidance=25, steps=50, sampler="ddpm", seed=0, n=10,
                       api_name="/sample_points")


# The same bad values through the three public doors: the CLI (exit 2, one line), the Python API
# (ValueError) and the named API (gr.Error): one message, from `diffusion.inputs`.
BAD = [("steps", 0, "steps=0 is not allowed; allowed: an integer in 1..1000"),
       ("steps", 100000, "steps=100000 is not allowed; allowed: an integer in 1..1000"),
       ("guidance", -1, "guidance=-1 is not allowed; allowed: a number in 0..10"),
       ("guidance", 1e9, "guidance=1000000000.0 is not allowed; allowed: a number in 0..10"),
       ("seed", -1, "seed=-1 is not allowed; allowed: an integer in 0..4294967295"),
       ("seed", 3.7, "seed=3.7 is not allowed; allowed: an integer in 0..4294967295"),
       ("label", "circle", "label='circle' is not allowed; allowed: spiral, s_curve, moons, random"),
       ("sampler", "euler", "sampler='euler' is not allowed; allowed: ddpm, ddim, dpm++2m, dpm++2m-sde, unipc")]


@pytest.mark.parametrize("field, value, message", BAD)
def test_one_message_through_cli_python_api_and_named_api(client, tmp_path, capsys, field, value, message):
    from diffusion import sample
    from diffusion.guided_sampler import GuidedSampler
    from diffusion.inputs import run
    good = dict(label="spiral", guidance=1, steps=5, sampler="ddpm", seed=0, n=10)
    bad = {**good, field: value}
    cli = ["points", "--out", str(tmp_path / "x.npy")] + [a for k, v in bad.items() for a in (f"--{k}", str(v))]
    assert run(sample.main, cli) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {message}" and len(err.splitlines()) == 1
    with pytest.raises(ValueError) as e:
        GuidedSampler.load("points").sample(bad["label"], bad["guidance"], bad["steps"], bad["sampler"], 0.0,
                                            bad["n"], bad["seed"])
    assert str(e.value) == message
    with pytest.raises(Exception) as e:
        client.predict(**bad, api_name="/sample_points")
    assert message in str(e.value)


def two_lines(n: int = 200) -> list:
    xs = np.linspace(-0.8, 0.8, n)
    return [[float(x), 0.4, "top"] for x in xs] + [[float(x), -0.4, "bottom"] for x in xs]


def test_sample_custom_samples_the_exact_denoiser_of_the_given_points(client):
    """Issue 20, acceptance 3: two labelled lines; at guidance 2 the samples of "top" lie on its line."""
    from diffusion.worlds.points_drawn import stroke_distance
    image, data = client.predict(points=two_lines(), label="top", guidance=2, steps=20, sampler="unipc", seed=0, n=500,
                                 api_name="/sample_custom")
    x = np.load(data)
    d = stroke_distance(x, [[(-0.8, 0.4), (0.8, 0.4)]])
    print(f"/sample_custom: mean distance to the top line at guidance 2: {d:.4f}")
    assert x.shape == (500, 2) and d < 0.05 and Image.open(image).size[0] >= 300


@pytest.mark.parametrize("points, label, message", [
    ([], "top", "points=[] is not allowed; allowed: at least one point"),
    (None, "left", "label='left' is not allowed; allowed: top, bottom, random"),
    ([[0.0, 0.0, "a"]] * 2001, "a", "points='2001 points' is not allowed; allowed: at most 2000 points"),
    ([[0.0, 1.5, "a"]], "a", "points[0]=[0.0, 1.5, 'a'] is not allowed; allowed: [x, y, class name]"),
])
def test_sample_custom_refuses_bad_points_by_name(client, points, label, message):
    with pytest.raises(Exception, match=re.escape(message)):
        client.predict(points=two_lines() if points is None else points, label=label, guidance=2, steps=20,
                       sampler="unipc", seed=0, n=100, api_name="/sample_custom")
