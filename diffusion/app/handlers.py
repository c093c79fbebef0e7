"""The app's sampling handlers: inputs from the UI (or the API) -> the engine -> pictures and files.

`SamplingHandlers(engine)` is built once by app.py around the one engine. No tensor math here: the
engine samples, the world and `media` draw. Every input is checked by `diffusion.inputs`; a
ValueError becomes a `gr.Error` naming the field, the value and the allowed range.
"""
from __future__ import annotations

import inspect
import random
import time

import gradio as gr

from ..core.checks import invalid
from ..core.field import KINDS, direction_field
from ..core.guidance import doubles_batch
from ..drawing.pictures import save_png
from ..drawing.plots import field_png, frontier_png
from ..inputs import PUBLIC_PARAMS, Param
from ..worlds import get_world, world_names
from ..worlds.labels import RANDOM, label_index
from . import media, player
from .compare import DEFAULT_GUIDANCES, DEFAULT_METHODS, caption, compare, compare_stream
from .engine import EXACT, SHIPPED, Engine, Progress, Request, Result
from .guard import guarded
from .storage import OUT, cap, files_exist, forget_files

STREAM_EVERY = 0.12  # seconds between streamed frames: smooth, yet leaves the CPU to the sampler
# The one concurrency group of every sampling event. Misses wait inside the engine for one of its
# RUNS, so the queue may run many events at once and a cache hit never waits behind a miss.
SAMPLING_EVENTS = dict(concurrency_id="sampling", concurrency_limit=24)
API_FILES = ("png", "npy")  # what the named API returns of a result
NETWORK = "network"
DENOISERS = (NETWORK, EXACT)  # the app's model choice: the trained network or the exact reference
PARAM_NAMES = list(PUBLIC_PARAMS)  # the method parameters, in the order the UI and the API pass them
SAME_ON_EXACT = ("On the exact reference, classifier guidance is exact CFG: the exact classifier of the same "
                 "pool gives grad log p(y | x_t) = -(eps_c - eps_u) / sqrt(1 - abar_t), so classifier guidance "
                 "at scale s equals CFG at scale s (to float error).")


def method_values(values) -> dict:
    """The method parameters as the UI and the named API pass them (positional, PARAM_NAMES order)."""
    return dict(zip(PARAM_NAMES, values))


def user_errors(fn):
    """Library ValueErrors (bad input, bad checkpoint) -> gr.Error, for plain and generator handlers."""
    return guarded(fn, [], fn.__name__)


def new_seed() -> int:
    return random.randrange(0, 1_000_000)


def describe(run: int, res: Result, cached: bool) -> str:
    """The status line of a finished run: which run it is and how it was made."""
    r = res.request
    how = "from the cache" if cached else f"in {res.seconds:.2f} s"
    calls = ""  # another method and its parameters are in the run's caption
    if r.method == "cfg":
        calls = "cond + uncond in 1 batched call" if doubles_batch(r.guidance, r.label == RANDOM) else "1 network call"
        calls = f" ({calls} per step)"
    return (f"**Run {run}**: {player.run_caption(r)}. Sampled {how}{calls}. Play, pause or drag the "
            "step slider under the picture.")


class SamplingHandlers:
    """The world tabs, the comparison tab and the named API, over one engine."""

    def __init__(self, engine: Engine):
        self.engine = engine
        engine.on_evict = forget_files  # a result's files go with it

    def request(self, world, model, label, guidance, steps, sampler, eta, seed, n, method="cfg",
                params: dict | None = None, denoiser=NETWORK) -> Request:
        return self.engine.request(world, self.model_for(world, model, denoiser), label, guidance, steps, sampler,
                                   eta, seed, n, method, params)

    def model_for(self, world, model, denoiser) -> str:
        """The engine's model: the chosen network, or the exact reference; for a model of a drawing
        (drawn, or trained on one) the exact denoiser of that drawing."""
        name = model_name(model, denoiser)
        if name == EXACT and model != SHIPPED:
            models = self.engine.models
            data = models.get(world, model).data
            if data is not None:
                return models.transient(world, models.get(world, SHIPPED).drawn(data))
        return name

    def artifacts(self, res: Result, kinds=media.FILE_KINDS) -> dict:
        """The result's downloads and final picture, each kind written once per cached result (again
        if the output folder's cap deleted it). The named API asks only for what it returns (PNG and
        .npy): the animations are most of an export's time and memory."""
        missing = [k for k in kinds if not files_exist(res, k)]
        if missing:
            folder = OUT / media.run_id(res.request)
            res.artifacts.update({k: str(v) for k, v in media.export(res, folder, missing).items()})
            cap()
        return res.artifacts

    # -- the world tabs --------------------------------------------------------------------------
    def generate(self, world, model, label, guidance, steps, sampler, eta, seed, n, method="cfg",
                 denoiser=NETWORK, *values):
        """Stream the reverse process into the run player. Yields (player HTML, final image, the
        direction field's step slider, video, files, state, status); outputs that have not changed
        yet are gr.skip(). The first yield clears the previous run's outputs. `values`: the method
        parameters in PARAM_NAMES order (those of other methods are ignored)."""
        req = self.request(world, model, label, guidance, steps, sampler, eta, seed, n, method,
                           method_values(values), denoiser)
        skip, run = gr.skip(), player.next_run()
        # The previous run's pictures, files and step go at once: nothing on screen belongs to another run.
        steps_range = gr.update(minimum=0, maximum=req.steps, value=req.steps, step=1, interactive=False)
        yield (player.starting_html(run, req), None, steps_range, None, None, None,
               f"**Run {run}**: {player.run_caption(req)}. Starting...")
        start = time.perf_counter()
        cached = True  # unless a frame streams: a cached request yields its Result at once
        for item in self.engine.stream(req, every=STREAM_EVERY):
            if isinstance(item, Progress):
                cached = False
                img = media.frame_image(req.world, item.x, item.x0, item.index, item.total, item.t)
                note = f"sampling: step {item.index} of {item.total - 1}, {time.perf_counter() - start:.1f} s"
                yield (player.live_html(run, req, img, item.index, item.total, note), skip, skip, skip, skip, skip,
                       f"**Run {run}**: {player.run_caption(req)}. {note.capitalize()}...")
                continue
            res = item
        steps_range = gr.update(minimum=0, maximum=req.steps, value=req.steps, step=1, interactive=True)
        shown = player.player_html(run, res)
        if not cached:  # the run plays at once; the animation files follow
            yield shown, skip, steps_range, skip, skip, req, describe(run, res, cached) + " Writing GIF/MP4..."
            shown = skip
        files = self.artifacts(res)
        yield (shown, files["png"], steps_range, files["mp4"],
               [files["png"], files["npy"], files["gif"], files["mp4"]], req, describe(run, res, cached))

    def field_at(self, req: Request | None, index, kinds=None):
        """Only the 2D direction field at `index` (the frame on screen is already right)."""
        if req is None:
            return gr.skip()
        return self.field(req, self.engine.cached(req) or self.engine.run(req), index, kinds)

    def field(self, req: Request, res: Result, index, kinds):
        if not get_world(req.world).has_field:
            return None
        index = step_index(res, index)
        kinds, note = field_kinds(req.label, kinds)
        t = res.timesteps[index]
        f = None
        if kinds:  # no arrows asked for: the points alone, without a network call
            s = self.engine.models.get(req.world, req.model)
            ck, names = s.checkpoint, s.checkpoint.config.labels
            guider = "cfg" if req.method == "cfg" else s.guider(req.method, req.method_params)
            f = direction_field(ck.model, ck.diffusion, label_index(req.label, names), len(names), req.guidance, t,
                                method=guider, steps=req.steps, index=index,
                                spacing=s.spacing_for(req.sampler, req.eta))
        how = "" if req.method == "cfg" else f", {req.method}"
        guided = "no guidance" if req.label == RANDOM else f"s = {req.guidance:g}{how}"
        title = f"x_t at step {index} of {len(res.xs) - 1} (t = {max(t, 0)}): label {req.label}, {guided}"
        return field_png(res.xs[index], f, kinds, title, note)

    def labels_for(self, world, model: str = SHIPPED) -> list[str]:
        return self.engine.models.get(world, model).labels

    def model_choices(self, world):
        return gr.update(choices=self.engine.models.names(world))

    def warm_up(self) -> None:
        """Load the models and precompute the examples (the first is each tab's default run, which
        the page draws at load) and the default comparison, so first visitors get instant answers."""
        for name in world_names():
            for label, guidance, steps, sampler, seed, n in get_world(name).examples:
                try:
                    res = self.engine.run(self.request(name, SHIPPED, label, guidance, steps, sampler, 0.0, seed, n),
                                          background=True)
                    self.engine.wait_idle()  # the GIF/MP4 encoding too gives way to a visitor's run
                    self.artifacts(res)
                    player.frames(res)
                except Exception as e:  # a missing checkpoint is reported when the tab is used
                    print(f"warm-up skipped {name}: {e}")
                    break
        first = get_world(world_names()[-1])
        try:
            compare(self.engine, first.name, first.default_label, 0, DEFAULT_GUIDANCES)
        except Exception as e:
            print(f"warm-up skipped the comparison: {e}")

    # -- the named API ---------------------------------------------------------------------------
    def api_sample(self, world, label, guidance, steps, sampler, seed, n, method="cfg", *values):
        """The final samples as a picture (PNG) and as data (.npy in the world's public format)."""
        return last(self.api_sample_live(world, label, guidance, steps, sampler, seed, n, method, *values))

    def api_sample_live(self, world, label, guidance, steps, sampler, seed, n, method="cfg", *values):
        """`api_sample` as the server runs it: a generator that yields nothing new (skips) while
        sampling, so that the run stops when its client goes away (nobody asks for the next item)."""
        req = self.request(world, SHIPPED, label, guidance, steps, sampler, 0.0, seed, n, method, method_values(values))
        yield from self.api_files(req)

    def api_files(self, req: Request):
        """A named endpoint's run: skips while sampling, then (PNG, .npy) of the result."""
        for item in self.engine.stream(req, every=STREAM_EVERY * 8):
            if isinstance(item, Progress):
                yield gr.skip(), gr.skip()
                continue
            files = self.artifacts(item, API_FILES)
            yield files["png"], files["npy"]

    # -- the guidance comparison -------------------------------------------------------------------
    def compare_ui(self, world, model, label, seed, guidances, methods=DEFAULT_METHODS, denoiser=NETWORK,
                   progress=gr.Progress(), *values):
        """Stream the methods x scales comparison: after every finished cell the grid (unfinished
        cells blank), the table and the status; the frontier plot after each method's last scale.
        Yields (grid, plot, table, status, caption under the plot). `progress` comes before the
        method parameters (`values`) because Gradio fills it in only at a positional place."""
        start = time.perf_counter()
        plot = gr.skip()
        for c in compare_stream(self.engine, world, label, seed, guidances, methods, method_values(values),
                                self.model_for(world, model, denoiser)):
            progress(len(c.cells) / len(c.requests), desc=f"{len(c.cells)} of {len(c.requests)} cells")
            if len(c.cells) % len(c.guidances) == 0:  # a method's row is complete: redraw its curve
                plot = frontier_plot(c)
            r = c.requests[0]
            status = (f"{len(c.methods)} method(s) x {len(c.guidances)} scales from the same noise (seed {c.seed}), "
                      f"{r.n} samples each, {r.steps} {r.sampler.upper()} steps: {len(c.cells)} of {len(c.requests)} "
                      f"done in {time.perf_counter() - start:.1f} s.")
            if c.done and r.model == EXACT and {"cfg", "classifier"} <= set(c.methods):
                status += " " + SAME_ON_EXACT
            yield (media.comparison_grid(c), plot, gr.update(value=c.table(), headers=c.headers), status,
                   caption(c))
            plot = gr.skip()

    def compare_guidance(self, world, label, seed, guidances, methods=DEFAULT_METHODS, *values):
        """Same noise for several methods at several guidance scales: the grid (PNG; a row per
        method, a column per scale) and the metrics per method and scale."""
        return last(self.compare_guidance_live(world, label, seed, guidances, methods, *values))

    def compare_guidance_live(self, world, label, seed, guidances, methods=DEFAULT_METHODS, *values):
        """`compare_guidance` as the server runs it: skips after each cell, then the result."""
        for c in compare_stream(self.engine, world, label, seed, guidances, methods, method_values(values)):
            if not c.done:  # each cell is a chance for the server to stop a run whose client left
                yield gr.skip(), gr.skip()
        OUT.mkdir(parents=True, exist_ok=True)
        key = media.run_id(c.requests)[:12]
        path = OUT / f"compare_{c.world.name}_{c.label}_seed{c.seed}_{key}.png"
        save_png(media.comparison_grid(c), path)
        cap()
        yield str(path), c.as_json()


def last(items):
    """The last item of a generator (the handlers' final reply)."""
    out = None
    for out in items:
        pass
    return out


def model_name(model, denoiser) -> str:
    """The engine's model: the chosen network, or the exact reference."""
    if denoiser not in DENOISERS:
        raise invalid("denoiser", denoiser, ", ".join(DENOISERS))
    return EXACT if denoiser == EXACT else model


def frontier_plot(c):
    x, y = c.world.frontier
    named = dict(zip(c.world.metric_names, c.world.metric_headers(c.label)))
    return frontier_png(c.frontier(), named.get(x, x), named.get(y, y),
                        title=f"{c.world.title}: label {c.label}, seed {c.seed}")


def field_kinds(label: str, kinds) -> tuple[list[str], str]:
    """The arrows to draw for `label`, and a note when some asked for are left out: with the
    label "random" the conditional prediction is the unconditional one, so there is nothing to
    guide toward and only the unconditional arrows are drawn."""
    kinds = [k for k in KINDS if k in (kinds or [])]
    if label != RANDOM or kinds in ([], ["unconditional"]):
        return kinds, ""
    return ["unconditional"], "label random: cond = uncond, nothing to guide toward (uncond arrows only)"


def step_index(res: Result, index) -> int:
    """The scrubber's step, checked like every input (a stale or out-of-range step is an error
    naming the field, not moved silently to the nearest stored one)."""
    return Param("step", int, 0, len(res.xs) - 1).check(index)


# Every public method becomes a gr.Error-raising handler.
for _name, _fn in list(vars(SamplingHandlers).items()):
    if inspect.isfunction(_fn) and not _name.startswith("_") and _name not in ("request", "artifacts", "field", "warm_up",
                                                                              "model_for",
                                                                              "api_sample", "compare_guidance"):
        setattr(SamplingHandlers, _name, user_errors(_fn))
