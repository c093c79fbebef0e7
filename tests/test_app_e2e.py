"""End to end: launch the app on a free port and call the three named endpoints with gradio_client,
by the parameter names that the README documents."""
import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_the_api_documents_three_endpoints_with_their_parameter_names(client):
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    names = {k: [p["parameter_name"] for p in v["parameters"]] for k, v in api.items()}
    assert names["/sample_points"] == ["label", "guidance", "steps", "sampler", "seed", "n"]
    assert names["/sample_digits"] == ["label", "guidance", "steps", "sampler", "seed", "n"]
    assert names["/compare_guidance"] == ["world", "label", "seed", "guidances"]


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


def test_bad_input_comes_back_as_a_readable_error(client):
    with pytest.raises(Exception, match="guidance=25.0 is out of range: allowed 0..20"):
        client.predict(label="spiral", guidance=25, steps=50, sampler="ddpm", seed=0, n=10,
                       api_name="/sample_points")
