"""Guided Diffusion Explorer: see how classifier-free guidance steers a denoising diffusion model.

`python app.py` (or `make run`) serves http://127.0.0.1:7860 (GRADIO_SERVER_NAME/PORT honoured).
This file only lays out the page and wires handlers; sampling, drawing and training live in
`diffusion/`. Importing it builds no model: models load on first use (and, when the server
starts, in a background warm-up). One tab per registered world (`diffusion.worlds`).
"""
from __future__ import annotations

import inspect
import threading

import gradio as gr

from diffusion.app import player
from diffusion.app.api_docs import compare_doc, custom_doc, sample_doc
from diffusion.app.compare import DEFAULT_GUIDANCES
from diffusion.app.components import (COMPARE_INTRO, EXPLAIN, METHOD_NOTES, RawFile, RawNumber, RawSlider,
                                      method_controls, param_component)
from diffusion.app.draw_handlers import DrawHandlers
from diffusion.app.draw_ui import draw_panel, wire_draw
from diffusion.app.engine import EXACT, SHIPPED, Engine
from diffusion.app.guard import harden, named
from diffusion.app.handlers import (DENOISERS, NETWORK, SAME_ON_EXACT, SAMPLING_EVENTS, SamplingHandlers, model_name,
                                    new_seed)
from diffusion.app.serve import serve
from diffusion.app.models import DRAWING
from diffusion.app.train_handlers import (STAGE, STAGE_GUIDANCE, TrainHandlers, dataset_choices, datasets_of,
                                          limits_text)
from diffusion.inputs import (ETA, GUIDANCE, MAX_SCALES, METHOD, PUBLIC_PARAMS, SAMPLER, SAMPLER_NOTES, SEED, STEPS,
                              param_default)
from diffusion.training.job_spec import LR, MAX_SECONDS, P_UNCOND
from diffusion.training.jobs import JobManager
from diffusion.worlds import get_world, world_names
from diffusion.worlds import points_drawn as drawn
from diffusion.worlds.labels import label_choices

SAMPLER_CHOICES = [(s.upper().replace("UNIPC", "UniPC"), s) for s in SAMPLER.choices]
# public name -> (method, core name, Param, default): the guidance methods' parameters
METHOD_PARAMS_UI = {k: (*PUBLIC_PARAMS[k], param_default(k)) for k in PUBLIC_PARAMS}


def method_note(method, denoiser) -> str:
    method, _ = METHOD.check(method), model_name(SHIPPED, denoiser)  # raw values: checked here
    note = METHOD_NOTES.get(method, "")
    return note + (" " + SAME_ON_EXACT if method == "classifier" and denoiser == EXACT else "")


def sampler_note(sampler):
    """The eta slider (DDIM's alone) and the sampler's sentence; the raw value checked here."""
    sampler = SAMPLER.check(sampler)
    return gr.update(visible=sampler == "ddim"), SAMPLER_NOTES.get(sampler, "")


def world_tab(name: str) -> dict:
    """The controls and outputs of one world; every world uses this same layout. The controls a
    first visit needs come first and the rest fold away, so that on a phone the result is in
    the first screen below them."""
    w = get_world(name)
    c = {}
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            c["label"] = gr.Dropdown(label_choices(w.labels), value=w.default_label, label="class label")
            c["guidance"] = RawSlider(GUIDANCE.lo, GUIDANCE.hi, value=2.0, step=0.05, label="guidance scale s")
            with gr.Row(elem_classes="gde-quick"):
                for g in (0, 0.5, 1, 2, 3, 5, 7.5, 10):
                    gr.Button(f"{g:g}", size="sm", min_width=36).click(lambda g=g: g, None, c["guidance"],
                                                                       api_visibility="private")
            with gr.Row():
                c["steps"] = RawSlider(STEPS.lo, STEPS.hi, value=w.sampling["steps"], step=1, label="sampling steps",
                                       elem_id=f"steps-{name}", min_width=150)
                c["sampler"] = gr.Dropdown(SAMPLER_CHOICES, value=w.sampling["sampler"], label="sampler",
                                           min_width=120)
            with gr.Row():
                c["seed"] = RawNumber(0, precision=0, label="seed", minimum=SEED.lo, maximum=SEED.hi, min_width=100)
                c["dice"] = gr.Button("new seed", size="sm", min_width=80)
                c["go"] = gr.Button("Generate", variant="primary", elem_id=f"generate-{name}", min_width=100)
            with gr.Accordion("more: guidance method, model, count", open=False):
                c["sampler_note"] = gr.Markdown(SAMPLER_NOTES[w.sampling["sampler"]])
                c["eta"] = RawSlider(ETA.lo, ETA.hi, value=0.0, step=0.05, label="DDIM eta (0 = deterministic)",
                                     visible=False)
                c["method"], c["method_note"], c["groups"], c["params"] = method_controls(METHOD.choices,
                                                                                          METHOD_PARAMS_UI)
                c["model"] = gr.Dropdown([SHIPPED], value=SHIPPED, label="model")
                c["denoiser"] = gr.Radio(list(DENOISERS), value=NETWORK, label="denoiser",
                                         info=f"exact reference: the exact denoiser of {w.exact_pool} training "
                                              "examples per class (a perfect model of them)")
                c["n"] = RawSlider(1, w.sizes.max_n, value=w.sizes.default_n, step=1, label=w.noun)
            if w.has_field:  # 2D data a visitor can draw
                c["draw"] = draw_panel()
        with gr.Column(scale=2):
            c["player"] = gr.HTML(player.placeholder_html(), elem_id=f"player-{name}", js_on_load=None)
            c["status"] = gr.Markdown("Loading the default run...", elem_id=f"status-{name}")
            if w.has_field:
                c["kinds"] = gr.CheckboxGroup(["unconditional", "conditional", "guided"], value=["guided"],
                                              label="direction field (arrows x0_hat - x_t)")
                c["field"] = gr.Image(label="direction field", type="numpy", format="png", elem_id=f"field-{name}")
                c["scrub"] = RawSlider(0, w.sampling["steps"], value=w.sampling["steps"], step=1,
                                       label="direction field at step (follows the player when it stops)",
                                       interactive=False, elem_id=f"scrub-{name}", elem_classes="gde-follow")
            with gr.Row():
                c["final"] = gr.Image(label="final samples", type="filepath", elem_id=f"final-{name}")
                c["video"] = gr.Video(label="animation (MP4)", autoplay=True, loop=True)
            c["files"] = gr.File(label="downloads: PNG, .npy, GIF, MP4", file_count="multiple")
            c["state"] = gr.State(None)
    gr.Examples([list(row) for row in w.examples],
                [c["label"], c["guidance"], c["steps"], c["sampler"], c["seed"], c["n"]],
                label="examples (precomputed when the server starts)")
    with gr.Accordion("What am I looking at?", open=True):
        gr.Markdown(EXPLAIN)
    return c


def wire_world(demo: gr.Blocks, H: SamplingHandlers, name: str, c: dict) -> None:
    """The tab's events; the default run is drawn (or replayed from the cache) when the page loads."""
    if "draw" in c:
        wire_draw(DrawHandlers(H), c["draw"], c["model"], c["label"])
    inputs = [c["model"], c["label"], c["guidance"], c["steps"], c["sampler"], c["eta"], c["seed"], c["n"],
              c["method"], c["denoiser"], *c["params"]]
    has_field = "field" in c
    outputs = [c["player"], c["final"], *([c["scrub"]] if has_field else []), c["video"], c["files"], c["state"],
               c["status"]]

    def generate(model, label, guidance, steps, sampler, eta, seed, n, method, denoiser, *values):
        for out in H.generate(name, model, label, guidance, steps, sampler, eta, seed, n, method, denoiser, *values):
            yield out if has_field else out[:2] + out[3:]  # the field's step slider is 2D's alone

    done = c["go"].click(generate, inputs, outputs, **SAMPLING_EVENTS, api_visibility="undocumented",
                         api_name=f"generate_{name}")
    loaded = demo.load(generate, inputs, outputs, **SAMPLING_EVENTS, api_visibility="private")
    if has_field:  # the direction field at the last step as soon as a run is done
        kinds, field_in = named(c["kinds"], "kinds"), [c["state"], named(c["scrub"], "step"), c["kinds"]]
        c["go"].click(lambda: None, None, c["field"], queue=False, api_visibility="private")  # not the old run's
        for event in (done, loaded):
            event.then(H.field_at, field_in, c["field"], api_visibility="private")
        for src in (c["scrub"], kinds):
            src.change(H.field_at, field_in, c["field"], api_visibility="private", trigger_mode="always_last",
                       concurrency_limit=4)
    c["sampler"].change(sampler_note, c["sampler"], [c["eta"], c["sampler_note"]], api_visibility="private")
    c["dice"].click(new_seed, None, c["seed"], api_visibility="private")
    groups = list(c["groups"].items())
    for src in (c["method"], c["denoiser"]):  # only the chosen method's parameters are shown
        src.change(lambda m, d: [method_note(m, d)] + [gr.update(visible=k == m) for k, _ in groups],
                   [c["method"], c["denoiser"]], [c["method_note"]] + [g for _, g in groups], api_visibility="private")
    c["model"].focus(lambda: H.model_choices(name), None, c["model"], api_visibility="private")
    c["model"].change(lambda m: gr.update(choices=H.labels_for(name, m)), c["model"], c["label"],
                      api_visibility="private")


def compare_tab(demo: gr.Blocks, H: SamplingHandlers) -> None:
    """The methods x scales comparison: short controls first, then the result, then what it means
    (so that on a phone the default comparison is in the first screen)."""
    first = get_world(world_names()[-1])
    with gr.Row():
        world = gr.Radio(world_names(), value=first.name, label="world", min_width=150)
        label = gr.Dropdown(label_choices(first.labels), value=first.default_label, label="class label", min_width=90)
        seed = RawNumber(0, precision=0, label="seed", minimum=SEED.lo, maximum=SEED.hi, min_width=90)
    with gr.Row():
        methods = gr.Dropdown(list(METHOD.choices), value=["cfg"], multiselect=True, label="guidance methods (rows)",
                              elem_id="compare-methods", min_width=150)
        scales = gr.Textbox(DEFAULT_GUIDANCES, label="guidance scales (comma-separated)",
                            info=f"1 to {MAX_SCALES} scales, each {GUIDANCE.allowed()}", min_width=150)
    with gr.Accordion("more: model, denoiser, method parameters (each applies to its method)", open=False):
        with gr.Row():
            model = gr.Dropdown([SHIPPED], value=SHIPPED, label="model")
            denoiser = gr.Radio(list(DENOISERS), value=NETWORK, label="denoiser")
        with gr.Row():
            params = [param_component(p, default) for _, _, p, default in METHOD_PARAMS_UI.values()]
    go = gr.Button("Compare", variant="primary", elem_id="compare")
    # The images carry their own captions; a floating label would cover the first one.
    grid = gr.Image(label="samples per method and guidance scale", show_label=False, type="numpy", format="png",
                    elem_id="compare-grid")
    status = gr.Markdown("Loading the default comparison...", elem_id="compare-status")
    with gr.Row():
        with gr.Column():
            plot = gr.Image(label="frontier", show_label=False, type="numpy", format="png", elem_id="compare-plot")
            note = gr.Markdown(first.frontier_note, elem_id="compare-note")
        table = gr.Dataframe(label="measured", interactive=False, elem_id="compare-table")
    gr.Markdown(COMPARE_INTRO)
    world.change(lambda w: (gr.update(choices=label_choices(get_world(w).labels), value=get_world(w).default_label),
                            H.model_choices(w) | {"value": SHIPPED}, get_world(w).frontier_note), world,
                 [label, model, note], api_visibility="private")
    model.focus(H.model_choices, world, model, api_visibility="private")
    model.change(lambda w, m: gr.update(choices=H.labels_for(w, m)), [world, model], label, api_visibility="private")
    args, outs = [world, model, label, seed, scales, methods, denoiser, *params], [grid, plot, table, status, note]
    go.click(H.compare_ui, args, outs, **SAMPLING_EVENTS, api_visibility="undocumented")
    demo.load(H.compare_ui, args, outs, **SAMPLING_EVENTS, api_visibility="private")  # the default one


def train_tab(demo: gr.Blocks, TH: TrainHandlers, pickers: list) -> None:
    first = get_world(world_names()[0])
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            world = gr.Radio(world_names(), value=first.name, label="world")
            datasets = gr.CheckboxGroup(datasets_of(first.name), value=list(first.labels), label="datasets / digits",
                                        info=f"2D: or '{DRAWING}' alone (draw it in the 2D tab first)")
            width = RawSlider(32, 512, value=128, step=32, label="2D: MLP width")
            size = gr.Radio(["tiny", "small"], value="tiny", label="MNIST: U-Net size", visible=False)
            seconds = RawSlider(MAX_SECONDS.lo, MAX_SECONDS.hi, value=first.live["max_seconds"], step=10,
                                label="time budget (s)")
            with gr.Row():
                start = gr.Button("Train", variant="primary")
                stop = gr.Button("Stop", variant="stop")
            with gr.Accordion("more: learning rate, label dropout, seed", open=False):
                lr = RawNumber(2e-3, label="learning rate", minimum=LR.lo, maximum=LR.hi)
                p_uncond = RawSlider(P_UNCOND.lo, P_UNCOND.hi, value=0.2, step=0.05, label="p_uncond (label dropout)")
                seed = RawNumber(0, precision=0, label="seed", minimum=SEED.lo, maximum=SEED.hi)
            with gr.Accordion("upload a checkpoint", open=False):
                upload = RawFile(label="config.json + model.safetensors + diffusion.json, or a .zip",
                                 file_count="multiple", file_types=[".json", ".safetensors", ".zip", ".md"])
                use = gr.Button("Use uploaded checkpoint")
        with gr.Column(scale=2):
            status = gr.Markdown("Pick a world and press **Train**.")
            loss = gr.Image(label="loss", type="numpy", format="png", elem_id="train-loss")
            preview = gr.Image(label="samples from the model so far (guidance 2, DDIM)", type="numpy", format="png")
            stage_img = gr.Image(label=f"network beside the exact denoiser, guided samples (s = {STAGE_GUIDANCE:g})"
                                       " (after training on a drawing)", type="filepath", elem_id="train-stages")
            stage = named(RawSlider(0, STAGE.hi, value=STAGE.hi, step=1, label="training stage (EMA snapshot)",
                                    interactive=False, elem_id="train-stage"), "stage")
            stages = gr.State([])
            download = gr.File(label="trained checkpoint (zip of config.json + model.safetensors + ...)")
            gr.Markdown(limits_text())

    for comp, field in zip((datasets, width, size, seconds, lr, p_uncond, upload),
                           ("labels", "width", "size", "max_seconds", "lr", "p_uncond", "files")):
        named(comp, field)  # a refusal names the training job's field, not the label

    def sizes(w):
        vector = isinstance(get_world(w).live["size"], int)  # vector worlds take a width, images a size
        return (dataset_choices(w), gr.update(visible=vector), gr.update(visible=not vector),
                gr.update(value=get_world(w).live["max_seconds"]))

    world.change(sizes, world, [datasets, width, size, seconds], api_visibility="private")
    for event in (world.change, demo.load):  # before any training: the shipped model's own curve
        event(TH.shipped_loss, world, loss, api_visibility="private")
    start.click(TH.train, [world, datasets, width, size, seconds, lr, p_uncond, seed],
                [loss, preview, status, download, *pickers], concurrency_limit=None, api_visibility="private"
                ).then(TH.stages, None, [stage_img, stage, stages], api_visibility="private")
    stage.change(TH.stage_at, [stages, stage], stage_img, api_visibility="private", trigger_mode="always_last")
    stop.click(TH.stop, None, status, queue=False, api_visibility="private")
    use.click(TH.use_upload, upload, [status, *pickers], api_visibility="private")
    uploaded = gr.State([])  # the shown upload's files, removed from the server when replaced
    upload.change(TH.replace_upload, [upload, uploaded], uploaded, api_visibility="private")


def with_names(fn, names: list[str]):
    """fn(*args) documented with these parameter names (the named API's, in order)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    fn.__signature__ = inspect.Signature([inspect.Parameter(k, kind) for k in names])
    return fn


def api_endpoints(H: SamplingHandlers) -> None:
    """The documented API: /sample_points, /sample_digits, /compare_guidance, /sample_custom (see
    README). Numbers arrive raw (RawNumber), so that `diffusion.inputs` checks them with the field's range."""
    DH = DrawHandlers(H)
    with gr.Column(visible=False):
        label, sampler, world, scales = (gr.Textbox(label=k) for k in ("label", "sampler", "world", "guidances"))
        guidance, steps, seed, n = RawNumber(), RawNumber(), RawNumber(), RawNumber()
        method, methods = gr.Textbox("cfg", label="method"), gr.Textbox("cfg", label="methods")
        # every method's parameters, optional, at the method's default; other methods' are ignored
        params = [gr.Textbox(d, label=k) if p.choices else RawNumber(d, label=k)
                  for k, (_, _, p, d) in METHOD_PARAMS_UI.items()]
        image, data, grid, metrics = gr.Image(type="filepath"), gr.File(), gr.Image(type="filepath"), gr.JSON()
        for name in world_names():
            def sample(*args, name=name):
                yield from H.api_sample_live(name, *args)
            noun = get_world(name).noun
            sample.__doc__, sample.__name__ = sample_doc(name), f"sample_{noun}"  # the MCP tool's text and name
            names = ["label", "guidance", "steps", "sampler", "seed", "n", "method", *METHOD_PARAMS_UI]
            gr.Button().click(with_names(sample, names), [label, guidance, steps, sampler, seed, n, method, *params],
                              [image, data], api_name=f"sample_{noun}", **SAMPLING_EVENTS)

        def compare_guidance(*args):
            yield from H.compare_guidance_live(*args)
        compare_guidance.__doc__ = compare_doc()
        names = ["world", "label", "seed", "guidances", "methods", *METHOD_PARAMS_UI]
        gr.Button().click(with_names(compare_guidance, names), [world, label, seed, scales, methods, *params],
                          [grid, metrics], api_name="compare_guidance", **SAMPLING_EVENTS)

        def sample_custom(*args):
            yield from DH.api_sample_custom_live(*args)
        sample_custom.__doc__ = custom_doc()
        points = gr.JSON(label=drawn.FIELD)
        gr.Button().click(with_names(sample_custom, [drawn.FIELD, "label", "guidance", "steps", "sampler", "seed", "n"]),
                          [points, label, guidance, steps, sampler, seed, n], [image, data], api_name="sample_custom",
                          **SAMPLING_EVENTS)


def build() -> gr.Blocks:
    """The page, with the one engine (result cache) and job manager handed to its handlers
    (`demo.handlers`, `demo.train_handlers`)."""
    jobs = JobManager(threads=1)  # one core trains, the other keeps sampling responsive
    engine = Engine(busy=jobs.training_now)
    H, TH = SamplingHandlers(engine), TrainHandlers(engine, jobs)
    with gr.Blocks(title="Guided Diffusion Explorer", delete_cache=(60, 300)) as demo:  # Gradio's files: 5 min
        gr.Markdown("# Guided Diffusion Explorer\nClassifier-free guidance (Ho & Salimans, 2022) steering a "
                    "DDPM (Ho et al., 2020), live on the CPU.")
        tabs = {}
        with gr.Tabs(overflow_behavior="wrap"):  # on a phone every tab stays in sight
            for name in world_names():
                with gr.Tab(get_world(name).title, id=name):
                    tabs[name] = world_tab(name)
            with gr.Tab("Guidance comparison", id="compare"):
                compare_tab(demo, H)
            with gr.Tab("Train", id="train"):
                train_tab(demo, TH, [c["model"] for c in tabs.values()])
        for name, c in tabs.items():
            wire_world(demo, H, name, c)
        api_endpoints(H)
        demo.unload(TH.forget)  # a session's job, uploads and models end with it
    harden(demo, {"generate", "compare_ui", "compare_guidance", "sample_custom"} | {f"sample_{get_world(n).noun}" for n in world_names()})
    demo.queue(default_concurrency_limit=2, max_size=64)
    demo.handlers, demo.train_handlers = H, TH
    return demo


demo = build()  # cheap: no model is loaded until a request (or the warm-up) needs it
# System fonts: the page must not wait for a font hub (the app works offline).
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "monospace"])


PLAYER_JS, PLAYER_CSS = player.assets()


def launch(**kwargs):
    """Serve the page, its named API and the same endpoints as MCP tools (/gradio_api/mcp/), with the
    server's limits (`diffusion.app.serve`)."""
    return serve(demo, theme=THEME, js=PLAYER_JS, css=PLAYER_CSS, **kwargs)


if __name__ == "__main__":
    threading.Thread(target=demo.handlers.warm_up, daemon=True, name="warm-up").start()
    launch()
