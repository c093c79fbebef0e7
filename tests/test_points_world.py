"""The 2D data exactly as the write-up, scaled into [-1, 1] with one scale per curve."""
import math

import numpy as np
import pytest
import torch

from diffusion.worlds.labels import label_batch, label_index, label_name
from diffusion.worlds.points import POINT_LABELS, _curve, pattern, sample_pattern, sample_points


def test_curves_follow_the_write_up():
    u = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    no = torch.zeros(3, dtype=torch.bool)
    t = 1.5 * math.pi + 3 * math.pi * u
    torch.testing.assert_close(_curve("spiral", u, no), torch.stack([t * torch.cos(t), t * torch.sin(t)], 1))
    t = 3 * math.pi * (u - 0.5)
    torch.testing.assert_close(_curve("s_curve", u, no), torch.stack([torch.sin(t), torch.sign(t) * (torch.cos(t) - 1)], 1))
    t = math.pi * u
    inner = _curve("moons", u, ~no)
    torch.testing.assert_close(inner, torch.stack([1 - torch.cos(t), 1 - torch.sin(t) - 0.5], 1))


@pytest.mark.parametrize("name", POINT_LABELS)
def test_scaled_into_unit_box_with_aspect_ratio_kept(name):
    u = torch.linspace(0, 1, 20001, dtype=torch.float64)
    both = torch.cat([pattern(name, u, torch.zeros_like(u, dtype=torch.bool)),
                      pattern(name, u, torch.ones_like(u, dtype=torch.bool))])
    assert both.min() == pytest.approx(-1, abs=1e-4) and both.max() == pytest.approx(1, abs=1e-4)
    raw = torch.cat([_curve(name, u, torch.zeros_like(u, dtype=torch.bool)),
                     _curve(name, u, torch.ones_like(u, dtype=torch.bool))])
    # one affine map for both coordinates: the width/height ratio survives scaling
    ratio = lambda p: float((p[:, 0].max() - p[:, 0].min()) / (p[:, 1].max() - p[:, 1].min()))
    assert ratio(both.double()) == pytest.approx(ratio(raw), rel=1e-4)


def test_scale_does_not_depend_on_sample_size():
    """The scale comes from the curve, not from the drawn points: ten points are not stretched
    to fill the box, and a point's position does not depend on what else is in the batch."""
    small = sample_pattern("spiral", 10, torch.Generator().manual_seed(0))
    assert small.abs().max() < 0.999
    u = torch.rand(1000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    half = torch.zeros(1000, dtype=torch.bool)
    assert torch.equal(pattern("spiral", u[:3], half[:3]), pattern("spiral", u, half)[:3])


def test_training_batch_follows_labels():
    y = torch.tensor([0, 1, 2] * 100)
    x = sample_points(y, POINT_LABELS, torch.Generator().manual_seed(0))
    assert x.shape == (300, 2) and x.abs().max() <= 1 + 1e-6
    assert np.allclose(x[y == 1].numpy()[:, 0].max(), 0.5, atol=0.02)  # the s-curve is half as wide


def test_labels_by_name_and_random():
    names = ["spiral", "s_curve", "moons"]
    assert label_index("spiral", names) == 0 and label_index("random", names) == 3
    assert label_index(None, names) == 3 and label_name(3, names) == "random"
    assert label_index(3, [str(d) for d in range(10)]) == 3
    assert label_batch(["moons", "random"], 2, names).tolist() == [2, 3]
    with pytest.raises(ValueError, match="allowed: spiral, s_curve, moons, random"):
        label_index("circle", names)
    with pytest.raises(ValueError, match="allowed: 0, 1"):
        label_index(10, [str(d) for d in range(10)])
