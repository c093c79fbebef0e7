"""Guided Diffusion Explorer: see how classifier-free guidance steers a denoising diffusion model.

`python app.py` (or `make run`) serves http://127.0.0.1:7860 (GRADIO_SERVER_NAME/PORT honoured).
This file only lays out the page and wires handlers; sampling, drawing and training live in
`diffusion/`. Importing it builds no model: models load on first use (and, when the server
starts, in a background warm-up).
"""
from __future__ import annotations

import threading

import gradio as gr

from diffusion import handlers as h
from diffusion import train_handlers as th
from diffusion.compare import DEFAULT_GUIDANCES
from diffusion.engine import APP_MAX_N, SHIPPED
from diffusion.labels import WORLD_LABELS as CLASS_NAMES, label_choices
from diffusion.points import POINT_LABELS

WORLD_LABELS = {w: label_choices(names) for w, names in CLASS_NAMES.items()}  # with "random"
DEFAULTS = {"points": dict(label="spiral", n=1000), "mnist": dict(label="3", n=16)}
EXAMPLES = {"points": [["spiral", 2.0, 100, "DDPM", 0, 1000], ["moons", 0.0, 100, "DDPM", 1, 1000],
                       ["random", 1.0, 50, "DDIM", 2, 2000], ["s_curve", 7.0, 100, "DDPM", 3, 1000]],
            "mnist": [["3", 2.0, 100, "DDPM", 0, 16], ["7", 0.0, 100, "DDPM", 0, 16],
                      ["random", 1.0, 50, "DDIM", 1, 36], ["5", 5.0, 25, "DDIM", 2, 16]]}
EXPLAIN = """
**Guidance scale s.** The network predicts the noise twice, with the label and with the empty label,
and mixes them: `eps = eps_uncond + s * (eps_cond - eps_uncond)`. `s = 0` ignores the label,
`s = 1` is the plain conditional model, `s > 1` pushes further toward the label: samples get more
typical and less varied, and very large scales overshoot.

**x0 prediction.** At every step the model's noise estimate implies a guess of the clean sample,
`x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)`: blurry early, sharp late. The right panel shows it.

**"random"** is the empty-set label: the unconditional model, which should draw every class.
"""


def world_tab(world: str) -> dict:
    """The controls and outputs of one world; both worlds use this same layout."""
    d = DEFAULTS[world]
    c = {}
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            c["model"] = gr.Dropdown([SHIPPED], value=SHIPPED, label="model")
            c["label"] = gr.Dropdown(WORLD_LABELS[world], value=d["label"], label="class label")
            c["guidance"] = gr.Slider(0, 10, value=2.0, step=0.05, label="guidance scale s")
            with gr.Row():
                for g in (0, 0.5, 1, 2, 3, 5, 7.5, 10):
                    gr.Button(f"{g:g}", size="sm", min_width=36).click(lambda g=g: g, None, c["guidance"],
                                                                       api_visibility="private")
            c["steps"] = gr.Slider(1, 1000, value=100, step=1, label="sampling steps")
            c["sampler"] = gr.Radio(["DDPM", "DDIM"], value="DDPM", label="sampler")
            c["eta"] = gr.Slider(0, 1, value=0.0, step=0.05, label="DDIM eta (0 = deterministic)", visible=False)
            with gr.Row():
                c["seed"] = gr.Number(0, precision=0, label="seed", minimum=0)
                c["dice"] = gr.Button("new seed", size="sm")
            c["n"] = gr.Slider(1, APP_MAX_N[world], value=d["n"], step=1,
                               label="points" if world == "points" else "digits")
            c["go"] = gr.Button("Generate", variant="primary", elem_id=f"generate-{world}")
            with gr.Accordion("What am I looking at?", open=True):
                gr.Markdown(EXPLAIN)
        with gr.Column(scale=2):
            c["status"] = gr.Markdown("Press **Generate** to watch the reverse process.")
            c["frame"] = gr.Image(label="reverse process: x_t (left) and predicted x0 (right)",
                                  type="numpy", format="png", elem_id=f"frame-{world}", show_label=False)
            c["scrub"] = gr.Slider(0, 100, value=100, step=1, label="step (drag to look at any step)",
                                   interactive=False, elem_id=f"scrub-{world}")
            if world == "points":
                c["kinds"] = gr.CheckboxGroup(["unconditional", "conditional", "guided"], value=["guided"],
                                              label="direction field at this step (arrows x0_hat - x_t)")
                c["field"] = gr.Image(label="direction field", type="numpy", format="png")
            with gr.Row():
                c["final"] = gr.Image(label="final samples", type="filepath", elem_id=f"final-{world}")
                c["video"] = gr.Video(label="animation (MP4)", autoplay=True, loop=True)
            c["files"] = gr.File(label="downloads: PNG, .npy, GIF, MP4", file_count="multiple")
            c["state"] = gr.State(None)
    gr.Examples(EXAMPLES[world], [c["label"], c["guidance"], c["steps"], c["sampler"], c["seed"], c["n"]],
                label="examples (precomputed when the server starts)")
    return c


def wire_world(world: str, c: dict) -> None:
    inputs = [c["model"], c["label"], c["guidance"], c["steps"], c["sampler"], c["eta"], c["seed"], c["n"]]
    outputs = [c["frame"], c["final"], c["scrub"], c["video"], c["files"], c["state"], c["status"]]
    def generate(model, label, guidance, steps, sampler, eta, seed, n):
        yield from h.generate(world, model, label, guidance, steps, sampler, eta, seed, n)

    done = c["go"].click(generate, inputs, outputs, concurrency_limit=2, concurrency_id="sampling",
                         api_visibility="undocumented", api_name=f"generate_{world}")
    field_out = c.get("field", gr.State())
    kinds = c.get("kinds", gr.State(None))
    if "field" in c:  # the direction field of the shown (last) step as soon as a run is done
        done.then(h.field_at, [c["state"], c["scrub"], kinds], field_out, api_visibility="private")
    c["scrub"].change(h.scrub, [c["state"], c["scrub"], kinds], [c["frame"], field_out],
                      api_visibility="private", trigger_mode="always_last", concurrency_limit=4)
    if "kinds" in c:
        c["kinds"].change(h.scrub, [c["state"], c["scrub"], kinds], [c["frame"], field_out],
                          api_visibility="private")
    c["sampler"].change(lambda s: gr.update(visible=s == "DDIM"), c["sampler"], c["eta"], api_visibility="private")
    c["dice"].click(h.new_seed, None, c["seed"], api_visibility="private")
    c["model"].focus(lambda: h.model_choices(world), None, c["model"], api_visibility="private")
    c["model"].change(lambda m: gr.update(choices=h.labels_for(world, m)), c["model"], c["label"],
                      api_visibility="private")


def compare_tab() -> None:
    gr.Markdown("Same label, same seed, same initial noise: only the guidance scale changes. "
                "2D: distance to the pattern (lower is better) and spread; MNIST: LeNet accuracy and "
                "diversity (mean pairwise pixel distance). Larger s trades diversity for fidelity.")
    with gr.Row():
        world = gr.Radio(["points", "mnist"], value="mnist", label="world")
        model = gr.Dropdown([SHIPPED], value=SHIPPED, label="model")
        label = gr.Dropdown(WORLD_LABELS["mnist"], value="3", label="class label")
        seed = gr.Number(0, precision=0, label="seed", minimum=0)
        scales = gr.Textbox(DEFAULT_GUIDANCES, label="guidance scales (comma-separated)")
    go = gr.Button("Compare", variant="primary", elem_id="compare")
    status = gr.Markdown(elem_id="compare-status")
    # The images carry their own captions; a floating label would cover the first one.
    grid = gr.Image(label="samples per guidance scale", show_label=False, type="numpy", format="png",
                    elem_id="compare-grid")
    with gr.Row():
        plot = gr.Image(label="quality vs guidance", show_label=False, type="numpy", format="png")
        table = gr.Dataframe(label="measured", interactive=False, elem_id="compare-table")
    world.change(lambda w: (gr.update(choices=WORLD_LABELS[w], value=DEFAULTS[w]["label"]),
                            h.model_choices(w) | {"value": SHIPPED}), world, [label, model], api_visibility="private")
    model.focus(h.model_choices, world, model, api_visibility="private")
    model.change(lambda w, m: gr.update(choices=h.labels_for(w, m)), [world, model], label, api_visibility="private")
    go.click(h.compare_ui, [world, model, label, seed, scales], [grid, plot, table, status],
             concurrency_limit=1, concurrency_id="sampling", api_visibility="undocumented")


def train_tab(pickers: list) -> None:
    gr.Markdown(th.limits_text())
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            world = gr.Radio(["points", "mnist"], value="points", label="world")
            datasets = gr.CheckboxGroup(list(POINT_LABELS), value=list(POINT_LABELS), label="datasets / digits")
            width = gr.Slider(32, 512, value=128, step=32, label="2D: MLP width")
            size = gr.Radio(["tiny", "small"], value="tiny", label="MNIST: U-Net size", visible=False)
            seconds = gr.Slider(10, th.JOB_LIMIT, value=60, step=10, label="time budget (s)")
            lr = gr.Number(2e-3, label="learning rate")
            p_uncond = gr.Slider(0, 1, value=0.2, step=0.05, label="p_uncond (label dropout)")
            seed = gr.Number(0, precision=0, label="seed", minimum=0)
            with gr.Row():
                start = gr.Button("Train", variant="primary")
                stop = gr.Button("Stop", variant="stop")
            upload = gr.File(label="upload a checkpoint (config.json + model.safetensors + diffusion.json, or a .zip)",
                             file_count="multiple", file_types=[".json", ".safetensors", ".zip", ".md"])
            use = gr.Button("Use uploaded checkpoint")
        with gr.Column(scale=2):
            status = gr.Markdown("Pick a world and press **Train**.")
            loss = gr.Image(label="loss", type="numpy", format="png")
            preview = gr.Image(label="samples from the model so far (guidance 2, 25 DDIM steps)", type="numpy", format="png")
            download = gr.File(label="trained checkpoint (zip of config.json + model.safetensors + ...)")
    world.change(lambda w: (th.dataset_choices(w), gr.update(visible=w == "points"), gr.update(visible=w == "mnist"),
                            gr.update(value=th.DEFAULTS[w]["max_seconds"])),
                 world, [datasets, width, size, seconds], api_visibility="private")
    start.click(th.train, [world, datasets, width, size, seconds, lr, p_uncond, seed],
                [loss, preview, status, download, *pickers], concurrency_limit=None, api_visibility="private")
    stop.click(th.stop, None, status, queue=False, api_visibility="private")
    use.click(th.use_upload, upload, [status, *pickers], api_visibility="private")


def api_endpoints() -> None:
    """The documented API: /sample_points, /sample_digits, /compare_guidance (see README)."""
    with gr.Column(visible=False):
        label, sampler, world, scales = gr.Textbox(), gr.Textbox(), gr.Textbox(), gr.Textbox()
        guidance, steps, seed, n = gr.Number(), gr.Number(precision=0), gr.Number(precision=0), gr.Number(precision=0)
        image, data, grid, metrics = gr.Image(type="filepath"), gr.File(), gr.Image(type="filepath"), gr.JSON()
        for fn in (h.sample_points, h.sample_digits):
            gr.Button().click(fn, [label, guidance, steps, sampler, seed, n], [image, data],
                              api_name=fn.__name__, concurrency_id="sampling")
        gr.Button().click(h.compare_guidance, [world, label, seed, scales], [grid, metrics],
                          api_name="compare_guidance", concurrency_id="sampling")


def build() -> gr.Blocks:
    with gr.Blocks(title="Guided Diffusion Explorer") as demo:
        gr.Markdown("# Guided Diffusion Explorer\nClassifier-free guidance (Ho & Salimans, 2022) on a "
                    "DDPM (Ho et al., 2020), live on the CPU: watch 2D point clouds un-diffuse and MNIST "
                    "digits sharpen, step by step.")
        tabs = {}
        with gr.Tabs():
            with gr.Tab("2D points", id="points"):
                tabs["points"] = world_tab("points")
            with gr.Tab("MNIST digits", id="mnist"):
                tabs["mnist"] = world_tab("mnist")
            with gr.Tab("Guidance comparison", id="compare"):
                compare_tab()
            with gr.Tab("Train", id="train"):
                train_tab([tabs["points"]["model"], tabs["mnist"]["model"]])
        for world, c in tabs.items():
            wire_world(world, c)
        api_endpoints()
    demo.queue(default_concurrency_limit=2, max_size=64)
    return demo


def warm_up() -> None:
    """Load both models and precompute the examples, so first visitors get instant answers."""
    for world, rows in EXAMPLES.items():
        for label, guidance, steps, sampler, seed, n in rows:
            try:
                res = h.ENGINE.run(h.make_request(world, SHIPPED, label, guidance, steps, sampler, 0.0, seed, n),
                                   background=True)
                h.ENGINE.wait_idle()  # the GIF/MP4 encoding too gives way to a visitor's run
                h.artifacts(res)
            except Exception as e:  # a missing checkpoint is reported when the tab is used
                print(f"warm-up skipped {world}: {e}")
                break


demo = build()  # cheap: no model is loaded until a request (or the warm-up) needs it
# System fonts: the page must not wait for a font hub (the app works offline).
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "monospace"])


def launch(**kwargs):
    return demo.launch(theme=THEME, **kwargs)


if __name__ == "__main__":
    threading.Thread(target=warm_up, daemon=True, name="warm-up").start()
    launch()
