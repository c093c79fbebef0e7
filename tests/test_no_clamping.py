"""No silent clamping or rounding in the UI: every numeric control of every event is sent values
outside its range (and a fraction where an integer is due) through Gradio's own processing
(`Blocks.process_api`: the component's preprocess, then the handler), and each comes back as an
error naming the field, in the one format of `diffusion.inputs`."""
import asyncio
import re

import gradio as gr
import pytest
from gradio.state_holder import SessionState

import app
from diffusion.inputs import PUBLIC_PARAMS, SEED

demo = app.demo
# control label -> the field its errors name (the method parameters: "phi: ..." -> phi)
FIELDS = {"guidance scale s": "guidance", "sampling steps": "steps", "DDIM eta (0 = deterministic)": "eta",
          "seed": "seed", "points": "n", "digits": "n", "step (drag to look at any step)": "step", "direction field at step (follows the player when it stops)": "step",
          "2D: MLP width": "width", "time budget (s)": "max_seconds", "learning rate": "lr",
          "p_uncond (label dropout)": "p_uncond", "training stage (EMA snapshot)": "stage"}
FORMAT = re.compile(r"^(\w+)=(.+) is not allowed; allowed: (.+)$")


def field_of(comp) -> str:
    name = comp.label.split(":")[0]
    return name if name in PUBLIC_PARAMS else FIELDS[comp.label]


def ui_events():
    """Every event of the page (not the named API's hidden column) with a numeric input."""
    api = {b._id for fn in demo.fns.values() if fn.api_name in ("sample_points", "sample_digits",
                                                                  "compare_guidance") for b in fn.inputs}
    for fn in demo.fns.values():
        numeric = [b for b in fn.inputs if isinstance(b, (gr.Slider, gr.Number)) and b._id not in api]
        if numeric:
            yield fn, numeric


def bad_values(comp) -> list:
    """Below and above the control's range, and a fraction where it takes integers; a method
    parameter's number field states no range: its Param's is used."""
    lo, hi = comp.minimum, comp.maximum
    param = PUBLIC_PARAMS.get(comp.label.split(":")[0])
    if param and not param[2].choices and lo is None:
        lo, hi = param[2].lo, param[2].hi if param[2].hi != float("inf") else None
    out = [lo - 1 if lo is not None else None, hi * 2 + 1 if hi is not None else None]
    if getattr(comp, "precision", None) == 0 or (isinstance(comp, gr.Slider) and comp.step == 1):
        out.append((lo or 0) + 0.5)
    return [v for v in out if v is not None]


def call(fn, values: dict, state_value=None):
    """Run one event as the browser would: each input's default, `values` (by component) instead."""
    session = SessionState(demo)
    inputs = []
    for b in fn.inputs:
        if isinstance(b, gr.State):
            session[b._id] = state_value
        inputs.append(values.get(b, b.value))
    return asyncio.run(demo.process_api(fn, inputs, state=session))


def method_for(fn, comp) -> dict:
    """A method parameter is only checked when its method is chosen: choose it."""
    name = comp.label.split(":")[0]
    if name not in PUBLIC_PARAMS:
        return {}
    owner = PUBLIC_PARAMS[name][0]
    return {b: owner if b.label == "guidance method" else [owner] for b in fn.inputs
            if b.label in ("guidance method", "guidance methods (rows)")}


@pytest.fixture(scope="module")
def run_state():
    """A finished small 2D run, for the scrubber (its events read the run from the session)."""
    engine = demo.handlers.engine
    req = engine.request("points", "shipped", "moons", 2.0, 10, "ddim", 0.0, 0, 50)
    engine.run(req)
    return req


def test_every_numeric_control_refuses_out_of_range_values_by_name(run_state):
    seen = set()
    for fn, numeric in ui_events():
        for comp in numeric:
            field = field_of(comp)
            for value in bad_values(comp):
                with pytest.raises(gr.Error) as e:
                    call(fn, {comp: value, **method_for(fn, comp)}, run_state)
                got = FORMAT.match(str(e.value.message))
                assert got and got.group(1) == field, (comp.label, value, e.value.message)
                seen.add(field)
    assert {"guidance", "steps", "eta", "seed", "n", "step", "width", "max_seconds", "lr", "p_uncond",
            "phi", "apg_eta", "stage"} <= seen


def generate_event(world: str):
    return next(fn for fn in demo.fns.values() if fn.api_name == f"generate_{world}")


@pytest.mark.parametrize("label, value, message", [
    ("sampling steps", 0, "steps=0 is not allowed; allowed: an integer in 1..1000"),
    ("guidance scale s", 50, "guidance=50 is not allowed; allowed: a number in 0..10"),
    ("seed", 3.7, f"seed=3.7 is not allowed; allowed: {SEED.allowed()}"),
    ("seed", -1, f"seed=-1 is not allowed; allowed: {SEED.allowed()}"),
])
def test_the_issues_examples_are_refused_not_clamped(label, value, message):
    fn = generate_event("points")
    comp = next(b for b in fn.inputs if b.label == label)
    with pytest.raises(gr.Error, match=re.escape(message)):
        call(fn, {comp: value})


def test_the_comparison_takes_the_sliders_range():
    fn = next(fn for fn in demo.fns.values() if any(b.label == "guidance scales (comma-separated)"
                                                     for b in fn.inputs))
    scales = next(b for b in fn.inputs if b.label == "guidance scales (comma-separated)")
    with pytest.raises(gr.Error, match=re.escape("guidance=20 is not allowed; allowed: a number in 0..10")):
        call(fn, {scales: "0, 20"})


def test_the_raw_controls_use_gradios_own_front_ends():
    """A subclass is drawn by the front end of its name unless it is a template of its parent:
    an unknown name leaves a loading overlay over the page."""
    raw = {type(b) for b in demo.blocks.values() if type(b).__module__.startswith("diffusion")}
    assert raw and all(cls().get_block_name() == cls.__base__.__name__.lower() for cls in raw)
    assert {b.get_block_name() for b in demo.blocks.values() if isinstance(b, gr.Slider)} == {"slider"}
