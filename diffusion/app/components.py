"""Gradio components of our own. `RawNumber` hands the named API's numbers to our handlers as the
client sent them: gr.Number would round, bound or convert them first (precision=0 rounds 3.7 to 4,
a string "5" becomes 5.0), before `diffusion.inputs` could refuse them with the field's range."""
from __future__ import annotations

import gradio as gr


class RawNumber(gr.Number):
    """A number field whose value reaches the handler untouched (checked there)."""

    def preprocess(self, payload):
        return payload

    def api_info(self) -> dict:
        return {"type": "number"}
