"""Handlers of "Draw your own data" (the 2D tab) and of the named endpoint `/sample_custom`.

A drawing (the canvas's strokes, one brush colour per class, or an uploaded .csv / .npy of x, y,
class) becomes labelled points (`worlds.points_drawn`) and at once a model: the exact denoiser of those
points, registered for the browser session that drew it (`models.Models.register`, so it counts
in the session's model cap and ends with the session) and selected in the 2D tab, where sampling,
the player, the direction field and the comparison run on it. `/sample_custom` takes the points as
a JSON list of [x, y, class name]; its models are named by their content (`Models.transient`).
"""
from __future__ import annotations

import json

import gradio as gr
import numpy as np
from PIL import Image

from ..core.checks import invalid
from ..drawing.classes import classes_png
from ..worlds import points_drawn as drawn
from ..worlds.labels import label_choices
from ..worlds.points import POINTS
from .handlers import SamplingHandlers, user_errors
from .models import DRAWING, SHIPPED
from .train_handlers import remove_uploaded, upload_paths

MAX_JSON = 200_000  # characters of points sent as JSON text (2000 rows fit)


def canvas_image(editor):
    """The canvas's picture (H, W, 4) from the editor's raw value (Gradio's file data of its
    composite, already checked by the guard to be in Gradio's upload folder); None if empty."""
    composite = editor.get("composite") if isinstance(editor, dict) else None
    if not composite:
        return None
    with Image.open(composite["path"]) as img:
        return np.asarray(img.convert("RGBA"))


def points_value(points):
    """The API's points as a list: a list as it is, JSON text parsed (a client may send either)."""
    if isinstance(points, str):
        if len(points) > MAX_JSON:
            raise invalid(drawn.FIELD, points, f"a JSON list of at most {drawn.MAX_POINTS} rows {drawn.ROW}")
        try:
            points = json.loads(points)
        except ValueError:
            raise invalid(drawn.FIELD, points, f"a JSON list of {drawn.ROW}") from None
    return points


class DrawHandlers:
    """The drawing's handlers over the app's sampling handlers (their engine holds the models)."""

    def __init__(self, sampling: SamplingHandlers):
        self.sampling, self.engine = sampling, sampling.engine

    def shipped(self):
        return self.engine.models.get(POINTS, SHIPPED)

    def use_drawing(self, editor, name1, name2, name3, files):
        """The canvas (or an uploaded .csv / .npy, when given) -> the session's drawn model. Returns
        (preview picture, status, the 2D tab's model picker, its label picker)."""
        names = drawn.check_names([name1, name2, name3])
        paths = upload_paths(files)
        try:
            if paths:
                d = drawn.from_file(paths[0], names)
            else:
                image = canvas_image(editor)
                if image is None:
                    raise invalid("drawing", "an empty canvas", "strokes in the brush colours, or an uploaded file")
                d = drawn.from_image(image, names)
        finally:
            remove_uploaded(paths)
        models = self.engine.models
        name = models.register(POINTS, f"{DRAWING} #{models.new_id()}", self.shipped().drawn(d))
        counts = ", ".join(f"{k} {v}" for k, v in d.counts().items())
        one = (" Only one class: pick it or `random` (they are the same data); draw a second colour to see "
               "guidance push the classes apart.") if len(d.names) == 1 else ""
        status = (f"**{name}**: {len(d.points)} points ({counts}). Its exact denoiser is now the 2D tab's model: "
                  f"press **Generate**, or train a network on it in the Train tab (data: my drawing).{one}")
        preview = classes_png(d.points, d.labels, d.names)
        return (preview, status, gr.update(choices=models.names(POINTS), value=name),
                gr.update(choices=label_choices(d.names), value=d.names[0]))

    def api_sample_custom_live(self, points, label, guidance, steps, sampler, seed, n):
        """/sample_custom as the server runs it: the exact denoiser of the given points; skips while
        sampling (so the run stops when its client goes away), then (PNG, .npy)."""
        d = drawn.from_rows(points_value(points))
        name = self.engine.models.transient(POINTS, self.shipped().drawn(d))
        req = self.sampling.request(POINTS, name, label, guidance, steps, sampler, 0.0, seed, n)
        yield from self.sampling.api_files(req)


DrawHandlers.use_drawing = user_errors(DrawHandlers.use_drawing)
