"""The in-browser player of a run: its frames sent once as data URLs inside an HTML fragment, and
`player.js` (loaded with the page) plays, pauses, loops and scrubs them without a server round trip.

Three states share one frame of markup, so the run on screen is always named in its header:
`starting_html` (a new run: the old pictures are gone), `live_html` (the frame being computed,
the scrubber's range already the new run's) and `player_html` (every stored frame, playing).
"""
from __future__ import annotations

import base64
import html
import io
import itertools
from pathlib import Path

import numpy as np
from PIL import Image

from ..worlds import get_world
from . import media

PLAYER_FRAMES = 51  # frames sent per run: every step of a 50-step run, every 2nd of the default 100
COLOURS = 48  # a palette PNG is half the bytes of an RGB one, and these pictures have few colours
FPS = 12  # frames per second at speed 1x
SPEEDS = (0.25, 0.5, 1, 2, 4)
ASSETS = Path(__file__).with_name("player.js"), Path(__file__).with_name("player.css")
_runs = itertools.count(1)


def next_run() -> int:
    """A number naming a run on screen (unique for the server's life)."""
    return next(_runs)


def run_caption(req) -> str:
    """Which run this is, in words: label, scale, steps, sampler, seed (and method, model)."""
    method = "" if req.method == "cfg" else f", {media.method_caption(req.method, req.method_params)}"
    model = "" if req.model == "shipped" else f", model {req.model}"
    return (f"label {req.label}, s = {req.guidance:g}, {req.steps} {req.sampler.upper()} steps, "
            f"seed {req.seed}, {req.n} {get_world(req.world).noun}{method}{model}")


def data_url(img: np.ndarray) -> str:
    """An RGB picture as a palette-PNG data URL."""
    buf = io.BytesIO()
    Image.fromarray(img).quantize(COLOURS).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def frames(res) -> list[tuple[int, str]]:
    """(step, data URL) of at most PLAYER_FRAMES frames of a result, drawn once and kept with it."""
    if "player" not in res.views:
        total = len(res.xs)
        res.views["player"] = [
            (i, data_url(media.frame_image(res.request.world, res.xs[i], res.x0s[i], i, total, res.timesteps[i])))
            for i in media.animation_indices(total, PLAYER_FRAMES)]
    return res.views["player"]


def _shell(run: int, req, state: str, body: str, steps: list[int], shown: int, autoplay: bool = False) -> str:
    """The player's markup: header, pictures, controls. `steps`: the step of each picture."""
    live = state != "ready"
    head = f"Run {run}: {html.escape(run_caption(req))}" + ("" if not live else f" ({html.escape(state)})")
    speeds = "".join(f'<option value="{s:g}"{" selected" if s == 1 else ""}>{s:g}x</option>' for s in SPEEDS)
    off = " disabled" if live or len(steps) < 2 else ""
    last = max(len(steps) - 1, 0)
    return (f'<div class="gde-player{" gde-live" if live else ""}" data-run="{run}" data-fps="{FPS}" '
            f'data-autoplay="{int(autoplay)}" data-steps="{",".join(map(str, steps))}">'
            f'<div class="gde-head">{head}</div><div class="gde-frames">{body}</div>'
            f'<div class="gde-controls"><button type="button" class="gde-play"{off}>play</button>'
            f'<input type="range" class="gde-scrub" min="0" max="{last}" value="{min(shown, last)}" step="1"'
            f' aria-label="step"{off}><span class="gde-pos">step {steps[min(shown, last)] if steps else 0}'
            f' of {req.steps}</span><label>speed <select class="gde-speed">{speeds}</select></label>'
            f'<label><input type="checkbox" class="gde-loop" checked> loop</label></div></div>')


def placeholder_html(text: str = "the default run is on its way...") -> str:
    """What the player shows before its first run (the page's load draws the default one)."""
    return f'<div class="gde-empty">{html.escape(text)}</div>'


def starting_html(run: int, req) -> str:
    """A new run before its first frame: no picture of the previous run is left on screen."""
    return _shell(run, req, "starting...", '<div class="gde-empty">sampling starts...</div>',
                  list(range(req.steps + 1)), 0)


def live_html(run: int, req, img: np.ndarray, index: int, total: int, note: str) -> str:
    """The frame being computed; the scrubber spans the new run and marks how far it is."""
    body = f'<img class="gde-f on" src="{data_url(img)}" alt="step {index} of {total - 1}">'
    return _shell(run, req, note, body, list(range(total)), index)


def player_html(run: int, res, autoplay: bool = True) -> str:
    """Every stored frame of a finished run; it starts playing at once when `autoplay`, and
    otherwise (and without scripts) shows the final step."""
    shown = frames(res)
    body = "".join(f'<img class="gde-f{" on" if k == len(shown) - 1 else ""}" src="{url}" '
                   f'alt="step {i} of {res.request.steps}" loading="eager">' for k, (i, url) in enumerate(shown))
    return _shell(run, res.request, "ready", body, [i for i, _ in shown], len(shown) - 1, autoplay)


def assets() -> tuple[str, str]:
    """(the player's script, its style sheet), for the page's `js` and `css`."""
    return tuple(p.read_text() for p in ASSETS)
