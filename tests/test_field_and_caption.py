"""The direction field reads at every noise level (arrows scaled to the field's own range, nothing
to guide toward for "random"), and the comparison's caption says what its numbers say."""
import numpy as np
import pytest

from diffusion.app.compare import Cell, Comparison, caption, trend
from diffusion.app.engine import Engine
from diffusion.app.handlers import SamplingHandlers, field_kinds
from diffusion.core.field import KINDS, direction_field
from diffusion.drawing.plots import arrow_scale
from diffusion.worlds.points import POINTS

h = SamplingHandlers(Engine())


def test_arrows_are_scaled_to_the_fields_own_range_at_every_noise_level():
    ck = h.engine.models.get("points").checkpoint
    spacing = 2 * 1.25 / 16  # direction_field's default grid: 17 points over [-1.25, 1.25]
    factors = []
    for t in (999, 500, 20):
        f = direction_field(ck.model, ck.diffusion, 0, 3, 3.0, t)
        factor, longest = arrow_scale(f, list(KINDS))
        lengths = [np.hypot(*f.arrows[k].T).max() for k in KINDS]
        assert longest == pytest.approx(max(lengths))
        assert factor * longest == pytest.approx(0.9 * spacing)  # the longest drawn spans 0.9 grid steps
        factors.append(factor)
    assert len(set(np.round(factors, 6))) == 3  # each noise level has its own scale


def test_random_has_nothing_to_guide_toward():
    assert field_kinds("spiral", ["guided", "unconditional"]) == (["unconditional", "guided"], "")
    kinds, note = field_kinds("random", ["guided", "conditional"])
    assert kinds == ["unconditional"] and "nothing to guide toward" in note
    assert field_kinds("random", []) == ([], "")
    *_, state, _ = list(h.generate("points", "shipped", "random", 3.0, 10, "ddim", 0.0, 0, 100))[-1]
    res = h.engine.cached(state)
    asked_guided = h.field(state, res, 5, ["guided"])
    assert np.array_equal(asked_guided, h.field(state, res, 5, ["unconditional", "guided"]))
    assert not np.array_equal(asked_guided, h.field(state, res, 5, []))  # the uncond arrows are drawn


def comparison(values: dict[str, list[float]], guidances=(0.0, 1.0, 3.0)) -> Comparison:
    cells = [Cell("cfg", g, None, {k: v[i] for k, v in values.items()}) for i, g in enumerate(guidances)]
    return Comparison(POINTS, "spiral", 0, list(guidances), ["cfg"], [None] * len(guidances), cells)


def test_trend_follows_the_values():
    assert trend([0, 1, 3], [0.5, 0.6, 0.7]).startswith("rises from 0.5 (s = 0) to 0.7 (s = 3)")
    assert trend([3, 0, 1], [0.5, 0.7, 0.6]).startswith("falls from 0.7 (s = 0) to 0.5 (s = 3)")
    assert trend([0, 1, 3], [0.09, 0.01, 0.02]) == ("is not monotonic in s: lowest 0.01 at s = 1, "
                                                     "highest 0.09 at s = 0")
    assert trend([0, 1], [0.5, 0.5001]).startswith("stays at about 0.5")


@pytest.mark.parametrize("spread, word", [([0.6, 0.7, 0.8], "rises"), ([0.8, 0.7, 0.6], "falls")])
def test_caption_says_what_the_numbers_say(spread, word):
    text = caption(comparison({"distance": [0.09, 0.01, 0.02], "coverage": [0.05, 0.04, 0.03], "spread": spread}))
    other = {"rises": "falls", "falls": "rises"}[word]
    assert f"spread {word} from" in text and f"spread {other}" not in text
    assert "distance to pattern is not monotonic in s" in text and "best at s = 1" in text
    assert "coverage falls from 0.05 (s = 0) to 0.03 (s = 3), best at s = 3" in text
    assert "*distance to pattern*: mean distance from a sample to the asked pattern" in text
    assert text.count("(lower is better)") == 2  # distance and coverage; spread has no better side


@pytest.mark.parametrize("values, log", [([5.0, 20.0], False), ([5.0, 100.0], True),
                                         ([0.0, 100.0], False), ([], False)])
def test_a_plot_axis_goes_log_only_when_positive_values_span_more_than_10x(values, log):
    import matplotlib.pyplot as plt

    from diffusion.drawing.plots import _log_axis

    fig, ax = plt.subplots()
    try:
        assert _log_axis(ax, "x", values) is log
        assert ax.get_xscale() == ("log" if log else "linear")
    finally:
        plt.close(fig)
