"""The 2D tab's "Draw your own data" panel: a canvas with one brush colour per class, the class
names, an upload of labelled points, and the drawn data set's preview. Its handler is
`draw_handlers.DrawHandlers.use_drawing`; the drawn model then drives the tab's own controls."""
from __future__ import annotations

import gradio as gr

from ..worlds import points_drawn as drawn
from .components import RawEditor, RawFile
from .guard import named

CANVAS = 400  # px: the canvas is square, its corners are (-1, -1) and (1, 1)
HOW = (f"Draw with up to {drawn.MAX_CLASSES} brush colours, one class each (pick a colour under the brush tool); "
       f"name the classes; press **Use drawing**. The strokes become up to {drawn.MAX_POINTS} labelled points, "
       "and the exact denoiser of those points (a perfect model of them, no training) becomes the tab's model. "
       "Or upload labelled points: .csv rows `x, y, class` (name, or number 1-3 for the names below) or a .npy "
       f"array (N, 3); x and y in -1..1, at most {drawn.MAX_POINTS} points.")


def draw_panel() -> dict:
    """The panel's components (call inside the tab's layout)."""
    d = {}
    with gr.Accordion("Draw your own data", open=False, elem_id="draw-panel"):
        gr.Markdown(HOW)
        d["canvas"] = named(RawEditor(
            value={"background": None, "layers": [], "composite": None}, type="numpy", image_mode="RGBA",
            sources=(), transforms=(), layers=False, canvas_size=(CANVAS, CANVAS), fixed_canvas=True,
            brush=gr.Brush(colors=list(drawn.BRUSHES), default_color=drawn.BRUSHES[0], color_mode="fixed",
                           default_size=3),
            eraser=gr.Eraser(default_size=12), label="canvas", elem_id="draw-canvas"), "drawing")
        with gr.Row():
            d["names"] = [named(gr.Textbox(v, label=f"class {i + 1} ({colour})", max_length=drawn.MAX_NAME,
                                           min_width=90), f"class name {i + 1}")
                          for i, (v, colour) in enumerate(zip(drawn.DEFAULT_NAMES, drawn.BRUSHES))]
        d["file"] = named(RawFile(label="or upload labelled points (.csv / .npy)", file_count="single",
                                  file_types=[".csv", ".npy"]), "file")
        d["use"] = gr.Button("Use drawing", variant="primary", elem_id="draw-use")
        d["status"] = gr.Markdown("", elem_id="draw-status")
        d["preview"] = gr.Image(label="the drawn data set", type="numpy", format="png", elem_id="draw-preview")
    return d


def wire_draw(DH, d: dict, model, label) -> None:
    """Use drawing -> preview, status, and the tab's model and label pickers set to the drawing."""
    d["use"].click(DH.use_drawing, [d["canvas"], *d["names"], d["file"]], [d["preview"], d["status"], model, label],
                   api_visibility="private")
