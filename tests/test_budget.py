"""The app's cost budget (`diffusion.budget`): every default fits, admit_n digits at the default steps fit, and a
request over it is refused before anything runs, with an error that names the limit."""
import pytest

from diffusion.app.compare import DEFAULT_GUIDANCES, compare_stream
from diffusion.app.engine import Engine
from diffusion.budget import budget, check_budget, run_cost
from diffusion.inputs import MAX_SCALES, METHOD, check_guidances, sample_args
from diffusion.worlds import get_world, world_names


def args(world, label, guidance, steps, sampler, seed, n, method="cfg"):
    w = get_world(world)
    return sample_args(w, w.labels, label, guidance, steps, sampler, 0.0, seed, n, method)


@pytest.mark.parametrize("world", world_names())
def test_every_default_of_the_app_fits(world):
    w = get_world(world)
    for row in w.examples:
        check_budget(w, [args(w, *row)])
    for exact in (False, True):  # the network or the exact reference
        for method in METHOD.choices:  # a tab's defaults, with any method
            check_budget(w, [args(w, w.default_label, 2.0, w.sampling["steps"], w.sampling["sampler"], 0,
                                  w.sizes.default_n, method)], exact)
        for steps, sampler in ((w.compare["steps"], w.compare["sampler"]), (25, "ddpm")):  # and the bench's reference
            cells = [args(w, w.default_label, g, steps, sampler, 0, w.sizes.compare_n)
                     for g in check_guidances(DEFAULT_GUIDANCES)]
            check_budget(w, cells, exact)


def test_admit_n_digits_at_the_default_steps_fit_and_one_more_does_not():
    w = get_world("mnist")
    steps, n = w.sampling["steps"], w.sizes.admit_n
    assert check_budget(w, [args(w, "3", 2.0, steps, "ddpm", 0, n)]) == budget()[0] == n * steps
    with pytest.raises(ValueError, match=rf"cost=\d+ is not allowed \({n + 1} digits x {steps} steps, cfg\); "
                                         rf"allowed: at most {budget()[0]:g} per request \({n} digits at {steps}"):
        check_budget(w, [args(w, "3", 2.0, steps, "ddpm", 0, n + 1)])


def test_the_budget_follows_the_worlds_defaults(monkeypatch):
    w = get_world("mnist")
    before = budget()[0]
    monkeypatch.setitem(w.sampling, "steps", w.sampling["steps"] * 2)  # a world's default steps doubled
    assert budget()[0] == 2 * before


def test_one_row_per_step_costs_half_and_methods_their_factor():
    w = get_world("points")
    guided = run_cost(w, args(w, "spiral", 2.0, 100, "ddpm", 0, 1000))
    assert run_cost(w, args(w, "spiral", 1.0, 100, "ddpm", 0, 1000)) == guided / 2
    assert run_cost(w, args(w, "random", 2.0, 100, "ddpm", 0, 1000)) == guided / 2
    assert run_cost(w, args(w, "spiral", 2.0, 100, "ddpm", 0, 1000, "classifier")) > guided
    assert run_cost(w, args(w, "spiral", 2.0, 100, "ddpm", 0, 1000), exact=True) == pytest.approx(guided * w.sizes.exact_cost)


def test_the_engine_and_the_comparison_refuse_before_sampling():
    engine = Engine()
    with pytest.raises(ValueError, match=f"allowed: at most {budget()[0]:g} per request"):
        engine.request("mnist", "shipped", "3", 2.0, 1000, "ddpm", 0.0, 0, 256)
    every = ", ".join(str(g) for g in range(MAX_SCALES))
    w = get_world("mnist")
    with pytest.raises(ValueError, match=rf"cost=\d+ is not allowed \({w.sizes.compare_n} digits x "
                                         rf"{w.compare['steps']} steps, .*56 runs\)"):
        next(compare_stream(engine, "mnist", "3", 0, every, ", ".join(METHOD.choices)))
    assert engine.misses == 0
