"""The evaluation's measures on hand-made cases."""
import numpy as np
import pytest

from diffusion.core.metrics import (confusion, curve_fit, frechet_distance, mean_pairwise_distance,
                               nearest_distance, pattern_shares, precision_recall_f1, spread)
from diffusion.worlds.points import curve_points


def test_fld_is_zero_for_identical_features_and_grows_with_a_shift():
    f = np.random.default_rng(0).normal(size=(500, 8))
    assert abs(frechet_distance(f, f)) < 1e-8
    shifted = frechet_distance(f, f + 0.5)
    assert abs(shifted - 8 * 0.25) < 1e-6  # the means differ by 0.5 in each of 8 dims
    scaled = frechet_distance(f, 2 * f)
    assert scaled > 0.5


def test_fld_matches_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20000, 2)) * [1, 2], rng.normal(size=(20000, 2)) * [3, 1] + [1, 0]
    # ||mu||^2 + sum (s1 - s2)^2 for diagonal covariances with std s
    expected = 1 + (1 - 3) ** 2 + (2 - 1) ** 2
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.05)


def test_precision_recall_f1_on_a_hand_made_confusion():
    true = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    pred = np.array([0, 0, 0, 1, 1, 1, 2, 2, 0, 0])
    cm = confusion(true, pred, 3)
    assert cm.tolist() == [[3, 1, 0], [0, 2, 0], [2, 0, 2]]
    prf = precision_recall_f1(cm)
    np.testing.assert_allclose(prf["precision"], [3 / 5, 2 / 3, 1.0])
    np.testing.assert_allclose(prf["recall"], [3 / 4, 1.0, 1 / 2])
    np.testing.assert_allclose(prf["f1"], [2 / 3, 0.8, 2 / 3])


def test_precision_of_a_never_predicted_class_is_zero_not_nan():
    prf = precision_recall_f1(confusion(np.array([0, 1]), np.array([0, 0]), 2))
    assert prf["precision"].tolist() == [0.5, 0.0] and not np.isnan(prf["f1"]).any()


def test_curve_fit_of_a_perfect_sampler_with_jitter():
    rng = np.random.default_rng(0)
    curve = curve_points("spiral")
    samples = curve[rng.integers(0, len(curve), 1000)] + rng.normal(scale=0.01, size=(1000, 2))
    fit = curve_fit(samples, curve)
    assert 0.005 < fit["distance"] < 0.012 and fit["coverage"] < 0.02
    far = curve_fit(samples + 0.3, curve)
    assert far["distance"] > 0.1


def test_pattern_shares_and_spread():
    curves = {k: curve_points(k) for k in ("spiral", "moons")}
    samples = np.concatenate([curves["spiral"][:300], curves["moons"][:100], np.full((100, 2), 5.0)])
    shares = pattern_shares(samples, curves)
    assert shares["none"] == pytest.approx(0.2) and shares["spiral"] + shares["moons"] == pytest.approx(0.8)
    assert spread(np.array([[1.0, 0], [-1, 0]])) == 1.0


def test_nearest_and_pairwise_distances():
    a = np.array([[0.0, 0], [3, 4]])
    assert nearest_distance(a, np.array([[0.0, 0]])).tolist() == [0.0, 5.0]
    assert mean_pairwise_distance(a) == 5.0 and mean_pairwise_distance(a[:1]) == 0.0
