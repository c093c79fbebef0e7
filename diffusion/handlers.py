"""The app's handlers: inputs from the UI (or the API) -> the engine -> pictures and files.

No tensor math here: the engine samples, `media`/`render` draw. Every input is checked by the
library; a ValueError becomes a `gr.Error` naming the value and the allowed range.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import random
import tempfile
import time
from pathlib import Path

import gradio as gr

from .engine import SHIPPED, Engine, Progress, Request, Result
from .labels import RANDOM
from .sampling import doubles_batch

ENGINE = Engine()
OUT = Path(tempfile.gettempdir()) / "guided-diffusion-explorer"
STREAM_EVERY = 0.12  # seconds between streamed frames: smooth, yet leaves the CPU to the sampler


def user_errors(fn):
    """Library ValueErrors (bad input, bad checkpoint) -> gr.Error, for plain and generator handlers."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except ValueError as e:
                raise gr.Error(str(e)) from None
        return gen

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValueError as e:
            raise gr.Error(str(e)) from None
    return plain


def new_seed() -> int:
    return random.randrange(0, 1_000_000)


def make_request(world, model, label, guidance, steps, sampler, eta, seed, n) -> Request:
    return ENGINE.request(world, model or SHIPPED, label, guidance, steps, sampler, eta, seed, n)  # it normalises names


def artifacts(res: Result) -> dict:
    """The result's downloads and final picture, written once per cached result."""
    from . import media
    if not res.artifacts:
        r = res.request
        folder = OUT / hashlib.sha1(repr(r).encode()).hexdigest()[:16]
        res.artifacts.update({k: str(v) for k, v in media.export(res, folder).items()})
    return res.artifacts


def frame(res: Result, index: int):
    from . import media
    index = max(0, min(int(index), len(res.xs) - 1))
    return media.frame_image(res.request.world, res.xs[index], res.x0s[index], index, len(res.xs),
                             res.timesteps[index])


def describe(res: Result, cached: bool) -> str:
    r = res.request
    how = "from the cache" if cached else f"in {res.seconds:.2f} s"
    calls = "cond + uncond in 1 batched call" if doubles_batch(r.guidance, r.label == RANDOM) else "1 network call"
    return (f"**{r.n} {'points' if r.world == 'points' else 'digits'}**, label `{r.label}`, guidance "
            f"{r.guidance:g}, {r.steps} {r.sampler.upper()} steps, seed {r.seed}: sampled {how} "
            f"({calls} per step). Drag the step slider to look at any step.")


# -- the world tabs ------------------------------------------------------------------------------
@user_errors
def generate(world, model, label, guidance, steps, sampler, eta, seed, n):
    """Stream the reverse process. Yields (frame, final image, step slider, video, files, state,
    status); outputs that have not changed yet are gr.skip()."""
    req = make_request(world, model, label, guidance, steps, sampler, eta, seed, n)
    skip = gr.skip()
    from . import media
    start = time.perf_counter()
    cached = True  # unless a frame streams: a cached request yields its Result at once
    for item in ENGINE.stream(req, every=STREAM_EVERY):
        if isinstance(item, Progress):
            cached = False
            img = media.frame_image(world, item.x, item.x0, item.index, item.total, item.t)
            status = f"sampling... step {item.index} of {item.total - 1} ({time.perf_counter() - start:.1f} s)"
            yield img, skip, skip, skip, skip, skip, status
            continue
        res = item
    last = len(res.xs) - 1
    slider = gr.update(minimum=0, maximum=last, value=last, step=1, interactive=True)
    img = frame(res, last)
    if not cached:  # show the final sample at once; the animation files follow
        yield img, skip, slider, skip, skip, req, describe(res, cached) + " Writing GIF/MP4..."
    files = artifacts(res)
    yield (img, files["png"], slider, files["mp4"],
           [files["png"], files["npy"], files["gif"], files["mp4"]], req, describe(res, cached))


@user_errors
def scrub(req: Request | None, index, kinds=None):
    """The stored frame at `index` (no sampling), and for 2D the direction field there."""
    if req is None:
        return gr.skip(), gr.skip()
    res = ENGINE.cached(req) or ENGINE.run(req)  # an evicted result is recomputed, bit-identical
    return frame(res, index), field(req, res, index, kinds)


@user_errors
def field_at(req: Request | None, index, kinds=None):
    """Only the 2D direction field at `index` (the frame on screen is already right)."""
    if req is None:
        return gr.skip()
    return field(req, ENGINE.cached(req) or ENGINE.run(req), index, kinds)


def field(req: Request, res: Result, index, kinds):
    if req.world != "points":
        return None
    from .field import KINDS, direction_field
    from .render import field_png
    index = max(0, min(int(index), len(res.xs) - 1))
    kinds = [k for k in (kinds or []) if k in KINDS]
    t = res.timesteps[index]
    # No arrows asked for: the points alone, without a network call.
    f = direction_field(ENGINE.models.get(req.world, req.model), req.label, req.guidance, t) if kinds else None
    title = f"x_t at t = {max(t, 0)} with x0_hat - x_t arrows (s = {req.guidance:g})"
    return field_png(res.xs[index], f, kinds, title)


@user_errors
def labels_for(world: str, model: str = SHIPPED) -> list[str]:
    return ENGINE.models.get(world, model or SHIPPED).labels


def model_choices(world: str):
    return gr.update(choices=ENGINE.models.names(world))


# -- the API -------------------------------------------------------------------------------------
def _api_sample(world, label, guidance, steps, sampler, seed, n):
    res = ENGINE.run(make_request(world, SHIPPED, label, guidance, steps, sampler, 0.0, seed, n))
    files = artifacts(res)
    return files["png"], files["npy"]


@user_errors
def sample_points(label, guidance, steps, sampler, seed, n):
    """2D points: the final samples as a PNG and as float32 (n, 2) .npy in [-1, 1]."""
    return _api_sample("points", label, guidance, steps, sampler, seed, n)


@user_errors
def sample_digits(label, guidance, steps, sampler, seed, n):
    """MNIST digits: the final samples as a PNG grid and as float32 (n, 28, 28) .npy in [0, 1]."""
    return _api_sample("mnist", label, guidance, steps, sampler, seed, n)


# -- the guidance comparison ---------------------------------------------------------------------
def _compare(world, label, seed, guidances, model=SHIPPED):
    from . import media
    from .compare import compare
    from .render import metrics_png
    c = compare(ENGINE, world, label, seed, guidances, model or SHIPPED)
    grid = media.comparison_image(world, [r.samples for r in c.results], c.guidances, c.metrics)
    rows = c.table()
    series = {c.headers[1]: [r[1] for r in rows], c.headers[2]: [r[2] for r in rows]}
    plot = metrics_png(c.guidances, series, title=f"{world}: label {c.label}, seed {c.seed}")
    return c, grid, plot


@user_errors
def compare_ui(world, model, label, seed, guidances):
    start = time.perf_counter()
    c, grid, plot = _compare(world, label, seed, guidances, model)
    cfg = f"{c.results[0].request.n} samples per scale, {c.results[0].request.steps} {c.results[0].request.sampler.upper()} steps"
    status = (f"{len(c.guidances)} scales from the same noise (seed {c.seed}), {cfg}, "
              f"in {time.perf_counter() - start:.1f} s.")
    return grid, plot, gr.update(value=c.table(), headers=c.headers), status


@user_errors
def compare_guidance(world, label, seed, guidances):
    """Same noise at several guidance scales: the grid (PNG) and the metrics per scale."""
    from .render import save_png
    c, grid, _ = _compare(world, label, seed, guidances)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"compare_{world}_{c.label}_seed{c.seed}_{'_'.join(f'{g:g}' for g in c.guidances)}.png"
    save_png(grid, path)
    metrics = [{"guidance": g, **m} for g, m in zip(c.guidances, c.metrics)]
    return str(path), {"world": world, "label": c.label, "seed": c.seed, "metrics": metrics}
