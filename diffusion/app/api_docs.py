"""The named endpoints' docstrings, written from `diffusion.inputs` (the one place that knows every
parameter's meaning and range). Gradio reads them twice: for the API page and for the MCP tools
(`launch(mcp_server=True)`), where an assistant sees the description and one line per argument
("Args:" section) and nothing else, so each line states the allowed values and the default."""
from __future__ import annotations

from ..inputs import (GUIDANCE, MAX_SCALES, METHOD, PUBLIC_PARAMS, SAMPLER, SEED, STEPS, Param, n_param,
                      param_default)
from ..worlds import get_world, world_names
from ..worlds.labels import label_choices


def _line(name: str, meaning: str, allowed: str, default=None) -> str:
    tail = "" if default is None else f"; default {default}"
    return f"    {name}: {meaning} ({allowed}{tail})"


def _param(p: Param, default=None) -> str:
    return _line(p.name, p.help, p.allowed(), default)


def _method_lines() -> list[str]:
    """The guidance method and each method's parameters: optional, at the method's default."""
    out = [_param(METHOD, "cfg")]
    for public, (method, _, p) in PUBLIC_PARAMS.items():
        out.append(_line(public, f"only with method={method}, ignored otherwise; {p.help}", p.allowed(),
                         param_default(public)))
    return out


def _doc(summary: str, args: list[str], returns: str) -> str:
    return "\n".join([summary, "", "Args:", *args, "Returns:", f"    {returns}"])


def sample_doc(world) -> str:
    """The docstring of a world's sampling endpoint (`/sample_points`, `/sample_digits`)."""
    w = get_world(world)
    args = [_line("label", "the class to sample; random = the unconditional model", ", ".join(label_choices(w.labels))),
            _param(GUIDANCE), _param(STEPS), _param(SAMPLER), _param(SEED), _param(n_param(w)), *_method_lines()]
    return _doc(f"{w.title}: sample {w.noun} of one class with classifier-free guidance (or another guidance "
                f"method) from the shipped diffusion model, on the CPU.", args,
                f"the final {w.noun} as a picture (PNG) and as data (.npy in the world's public format)")


def compare_doc() -> str:
    """The docstring of `/compare_guidance`."""
    labels = "; ".join(f"{name}: {', '.join(label_choices(get_world(name).labels))}" for name in world_names())
    args = [_line("world", "which model and data", ", ".join(world_names())),
            _line("label", "the class, for the chosen world", labels), _param(SEED),
            _line("guidances", "the guidance scales, one column each",
                  f"1..{MAX_SCALES} comma-separated numbers, each {GUIDANCE.allowed()}"),
            _line("methods", "the guidance methods, one row each", f"comma-separated, of: {', '.join(METHOD.choices)}",
                  "cfg"),
            *_method_lines()[1:]]
    return _doc("Compare guidance scales (and methods) on the same initial noise: one label, one seed, the same "
                "x_T in every cell, with the world's quality measures per cell.", args,
                "the grid (PNG; a row per method, a column per scale) and the measures per method and scale (JSON)")


def custom_doc() -> str:
    """The docstring of `/sample_custom`."""
    from ..worlds import points_drawn as drawn
    w = drawn.WORLD
    args = [_line(drawn.FIELD, "labelled points, the data set", f"a JSON list of 1..{drawn.MAX_POINTS} rows {drawn.ROW}, "
                  f"at most {drawn.MAX_CLASSES} class names"),
            _line("label", "the class to sample; random = the unconditional model", "a class name of the points, or random"),
            _param(GUIDANCE), _param(STEPS), _param(SAMPLER), _param(SEED), _param(n_param(w))]
    return _doc("Your own 2D data: sample the exact denoiser of the given labelled points (a perfect model of them, "
                "no training) with classifier-free guidance, on the CPU.", args,
                "the final points as a picture (PNG) and as data (.npy float32 (n, 2))")
