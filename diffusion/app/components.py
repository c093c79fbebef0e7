"""Gradio components of our own, and the app's longer texts. `RawNumber` hands the named API's numbers to our handlers as the
client sent them: gr.Number would round, bound or convert them first (precision=0 rounds 3.7 to 4,
a string "5" becomes 5.0), before `diffusion.inputs` could refuse them with the field's range.
`RawSlider` does the same for the app's sliders: nothing is clamped or refused before that check;
`RawFile` for the upload field, `RawEditor` for the drawing canvas."""
from __future__ import annotations

import gradio as gr


class RawNumber(gr.Number):
    """A number field whose value reaches the handler untouched (checked there)."""
    is_template = True  # Gradio draws it with its parent's (gr.Number's) front end

    def preprocess(self, payload):
        return payload

    def api_info(self) -> dict:
        return {"type": "number"}


# The app's longer texts: the world tabs' explanation, the comparison tab's, one sentence per method.
EXPLAIN = """
**Guidance scale s.** The network predicts the noise twice, with the label and with the empty label,
and mixes them: `eps = eps_uncond + s * (eps_cond - eps_uncond)`. `s = 0` ignores the label,
`s = 1` is the plain conditional model, `s > 1` pushes further toward the label: samples get more
typical and less varied, and very large scales overshoot.

**x0 prediction.** At every step the model's noise estimate implies a guess of the clean sample,
`x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)`: blurry early, sharp late. The right panel shows it.

**"random"** is the empty-set label: the unconditional model, which should draw every class.

**Guidance method.** CFG is where guidance started; the other methods change how the two predictions
are mixed (rescale, interval, APG, CFG-Zero*) or what the label's prediction is compared with
(autoguidance: a weaker model; classifier guidance: a classifier's gradient). **Exact reference**
swaps the network for the exact denoiser of a small pool of training examples: a perfect model of
them, to see what each method does when the model makes no error.
"""
COMPARE_INTRO = ("Same label, same seed, same initial noise: only the guidance method (rows) and the guidance "
                 "scale (columns) change. 2D: distance to the pattern and coverage of it (lower is better for "
                 "both) and spread; MNIST: LeNet accuracy, diversity (mean pairwise pixel distance) and FLD "
                 "against real digits of the class. Each picture appears as soon as it is done.")

class RawSlider(gr.Slider):
    """A slider whose value reaches the handler untouched: gr.Slider would refuse an out-of-range
    value with a message that does not name the field (`diffusion.inputs` checks it instead)."""
    is_template = True  # drawn by gr.Slider's front end

    def preprocess(self, payload):
        return payload


class RawFile(gr.File):
    """An upload field whose file data reaches the handler as the client sent it: Gradio's own check
    of it fails with a traceback and names no field (`app.guard` checks it instead). Gradio still
    checks, before either, that every file it names is in Gradio's upload folder."""
    is_template = True  # drawn by gr.File's front end

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.api_info()  # the schema, kept by Gradio (its API page), before the data model goes
        self.data_model = None

    def get_config(self, cls=None):
        # Gradio writes the props from the class's __init__ signature: this one's (*args, **kwargs)
        # would leave the page's field without its label and options.
        return super().get_config(cls or type(self).__base__)

    def preprocess(self, payload):
        return payload


class RawEditor(gr.ImageEditor):
    """An image editor (the drawing canvas) whose value reaches the handler as Gradio's raw editor
    data (file data of its pictures): Gradio's own check of it fails with a traceback and names no
    field (`app.guard` checks it instead; Gradio still checks each file to be in its upload folder)."""
    is_template = True  # drawn by gr.ImageEditor's front end

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.api_info()
        self.data_model = None

    def get_config(self, cls=None):
        # Gradio writes the props from the class's __init__ signature: this one's (*args, **kwargs)
        # would leave the page's field without its label and options.
        return super().get_config(cls or type(self).__base__)

    def preprocess(self, payload):
        return payload


# One plain sentence per guidance method, for the app.
METHOD_NOTES = {
    "cfg": "CFG (Ho & Salimans 2022): eps = eps_u + s (eps_c - eps_u), at every step.",
    "rescale": "CFG rescale (Lin et al. 2023): CFG, then rescaled toward the spread of eps_c by phi; "
               "tames the over-saturation of large s.",
    "interval": "Guidance interval (Kynkaanniemi et al. 2024): CFG only where sigma_lo < sigma_t <= sigma_hi "
                "(and between start and stop of the run); the plain conditional model elsewhere.",
    "apg": "APG (Sadat et al. 2024): the guidance update split into parts parallel and orthogonal to the "
           "prediction; the parallel part is weighted by eta, the update capped and averaged with momentum.",
    "cfg_zero_star": "CFG-Zero* (Fan et al. 2025): the unconditional term scaled by its optimal alpha*, and the "
                     "first steps left unmoved (zero-init).",
    "autoguidance": "Autoguidance (Karras et al. 2024): guide with a weaker version of the same model instead of "
                    "the unconditional one: eps = eps_weak + s (eps - eps_weak). Needs the world's weak model.",
    "classifier": "Classifier guidance (Dhariwal & Nichol 2021): eps_u - s sqrt(1 - abar_t) grad log p(y | x_t) of "
                  "a noise-aware classifier. Needs the world's classifier. On the exact reference it is exact CFG."}


def method_controls(methods, params: dict, default: str = "cfg"):
    """A method choice and, per method, a group with its parameters (only the chosen method's
    group is visible). params: public name -> (method, core name, inputs.Param) with the
    default from the core. Returns (method radio, note, {method: group}, [parameter components])."""
    method = gr.Dropdown(list(methods), value=default, label="guidance method")
    note = gr.Markdown(METHOD_NOTES.get(default, ""))
    groups, comps = {}, {}
    for m in methods:
        with gr.Group(visible=m == default) as g:
            for public, (owner, _, p, value) in params.items():
                if owner == m:
                    comps[public] = param_component(p, value)
        groups[m] = g
    return method, note, groups, [comps[k] for k in params]


def param_component(p, value):
    """A slider where both ends are finite, a radio for choices, else a number field; open ends
    are kept one slider step inside (the check in `diffusion.inputs` refuses them anyway)."""
    label = f"{p.name}: {p.help.split(': ', 1)[-1]}"
    if p.choices:
        return gr.Radio(list(p.choices), value=value, label=label)
    if p.lo is not None and p.hi is not None and p.hi != float("inf"):
        step = 1 if p.kind is int else (p.hi - p.lo) / 20
        lo, hi = p.lo + step * p.lo_open, p.hi - step * p.hi_open
        return RawSlider(lo, hi, value=value, step=step, label=label)
    return RawNumber(value, label=label, info=p.allowed(), precision=0 if p.kind is int else None)
