"""Every event of the app, made safe to call over plain HTTP by anyone: `harden(demo)`.

Gradio lets any client call any event (the browser's hidden ones too, by index), with any JSON.
Its own input conversion rounds integers (Number(precision=0) turns 3.7 into 4), and its errors
name no field and echo the whole value. So after the page is built, every event takes its values
raw (`preprocess=False`, files excepted) and is wrapped here:

- inputs that the handler does not check itself are checked against their component first: a
  number (an integer where the component steps by whole numbers; no bool, NaN or infinity; not
  below the component's minimum), a choice of a radio or checkbox group, text for text fields;
- a ValueError (the library's field-named error, `core.checks.invalid`) becomes a gr.Error with
  that message, logged as one line and never as a traceback;
- anything else is a bug: its traceback is logged, and the visitor gets one line naming the event.
"""
from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

from ..core.checks import first_line, invalid
from ..inputs import Param

log = logging.getLogger("diffusion.app")
MAX_MESSAGE = 600  # an error's text: the value in it is already cut to 80 characters
# Inputs taken raw. A file arrives as Gradio's file data (its path checked to be in Gradio's
# upload folder), not converted: Gradio's own refusal of a file type names no field.
VALUE_INPUTS = (gr.Number, gr.Slider, gr.Dropdown, gr.Radio, gr.CheckboxGroup, gr.Textbox, gr.State, gr.File,
                gr.Dataset, gr.ImageEditor, gr.JSON)
EDITOR_KEYS = {"background", "layers", "composite", "id"}  # an image editor's value (Gradio's EditorData)
SPECIAL = (gr.Progress, gr.Request, gr.EventData)  # what Gradio hands a handler besides the values


def user_error(e: ValueError) -> gr.Error:
    """A library ValueError as the visitor's error: its message, one line in the log."""
    message = str(e)[:MAX_MESSAGE]
    log.info("refused: %s", first_line(e)[:MAX_MESSAGE])
    return gr.Error(message, print_exception=False)


def named(comp, field: str):
    """comp, its refusals naming `field` (the library's name for the value) rather than its label."""
    comp.gde_field = field
    return comp


def field_name(comp) -> str:
    """The component's field: as `named`, else its label up to a colon ("phi: ..."), else its kind."""
    label = getattr(comp, "gde_field", None) or getattr(comp, "label", None) or type(comp).__name__.lower()
    return str(label).split(":")[0].strip()


def check_value(comp, value, types_only: bool = False):
    """The raw value, if it has the component's type (and range where fixed); else ValueError.
    `types_only`: only text is checked (to be text); the handler checks the rest."""
    name = field_name(comp)
    if isinstance(comp, (gr.State, gr.JSON)) or (types_only and isinstance(comp, (gr.Number, gr.Slider))):
        return value  # JSON: any JSON value, which its handler checks (e.g. `worlds.points_drawn.from_rows`)
    if isinstance(comp, gr.Dataset):  # an example's index; gr.Examples' handler takes it as Gradio would give it
        return comp.preprocess(Param("example", int, 0, len(comp.samples) - 1).check(value))
    if isinstance(comp, gr.File):
        if value is not None and not all(map(is_file_data, value if isinstance(value, list) else [value])):
            raise invalid(name, value, "uploaded files")
        return value
    if isinstance(comp, gr.ImageEditor):  # its pictures arrive as file data, the handler reads them
        ok = value is None or (isinstance(value, dict) and set(value) <= EDITOR_KEYS and
                               all(value.get(k) is None or is_file_data(value[k]) for k in ("background", "composite"))
                               and isinstance(value.get("layers") or [], list)
                               and all(map(is_file_data, value.get("layers") or [])))
        if not ok:
            raise invalid(name, value, "a drawing from the canvas (Gradio's editor data: background, layers, "
                                       "composite)")
        return value
    many = isinstance(comp, gr.CheckboxGroup) or (isinstance(comp, gr.Dropdown) and comp.multiselect)
    if types_only or (many and isinstance(comp, gr.Dropdown)):  # a dropdown's choices change per session
        if not (all(isinstance(v, str) for v in value) if many and isinstance(value, list) else isinstance(value, str)):
            raise invalid(name, value, "a list of texts" if many else "text")
        return value
    if isinstance(comp, (gr.Number, gr.Slider)):
        step = getattr(comp, "step", None)
        whole = comp.precision == 0 if isinstance(comp, gr.Number) else float(step or 1).is_integer()
        lo = comp.minimum if isinstance(comp, gr.Slider) or comp.minimum is not None else None
        # a slider's maximum may move with the session (the step scrubber): the handler checks it
        return Param(name, int if whole else float, lo, comp.maximum if isinstance(comp, gr.Number) else None
                     ).check(value)
    if isinstance(comp, (gr.Radio, gr.CheckboxGroup)):
        choices = [v for _, v in comp.choices]
        items = value if many and isinstance(value, list) else [value]
        if (many and not isinstance(value, list)) or not all(isinstance(v, (str, int, float)) and
                                                             not isinstance(v, bool) and v in choices for v in items):
            raise invalid(name, value, ("any of: " if many else "") + ", ".join(map(str, choices)))
        return value
    if not isinstance(value, str):  # dropdowns (their choices change per session) and text fields
        raise invalid(name, value, "text")
    return value


def is_file_data(f) -> bool:
    """Gradio's file data: its path was checked (the meta mark tells Gradio to) to be in the upload folder."""
    return isinstance(f, dict) and isinstance(f.get("path"), str) and f.get("meta") == {"_type": "gradio.FileData"}


def guarded(fn, comps: list, event: str, types_only: bool = False):
    """fn with its inputs checked against `comps` (`types_only`: fn checks their values itself)
    and its errors turned into the visitor's errors (see the module's docstring)."""
    def check(args):
        # Gradio puts its own objects (gr.Progress, gr.Request) among the values where the handler's
        # signature asks for them: they pair with no component.
        out, values = [], iter(comps)
        for a in args:
            c = None if isinstance(a, SPECIAL) else next(values, None)
            out.append(a if c is None else check_value(c, a, types_only))
        return out

    def failed(e: Exception) -> gr.Error:
        if isinstance(e, gr.Error):
            return e
        if isinstance(e, ValueError):
            return user_error(e)
        log.exception("event %s failed", event)
        return gr.Error(f"{event} failed: {type(e).__name__} (the server log has the details)",
                        print_exception=False)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(*args, **kwargs):
            try:
                yield from fn(*check(args), **kwargs)
            except Exception as e:
                raise failed(e) from None
        return gen

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            return fn(*check(args), **kwargs)
        except Exception as e:
            raise failed(e) from None
    return plain


def harden(demo: gr.Blocks, self_checked: set[str]) -> None:
    """Every event of `demo` takes raw values and is `guarded`; for the events whose handler's name
    is in `self_checked` (they check every input with `diffusion.inputs`; a handler may serve a
    button and the page's load) only text inputs are checked to be text. Call once, after the page
    is built."""
    for fn in demo.fns.values():
        if fn.fn is None:
            continue
        raw = all(isinstance(c, VALUE_INPUTS) for c in fn.inputs)
        if raw:
            fn.preprocess = False
        fn.fn = guarded(fn.fn, list(fn.inputs) if raw else [], str(fn.api_name or fn.name),
                        types_only=fn.name in self_checked)


def mcp_through_guard(demo: gr.Blocks) -> bool:
    """Let the MCP tools' arguments reach the guard. The MCP server checks them against the tools'
    JSON schema first, and its refusal names no field and echoes the whole value ("Input
    validation error: '99...9' is not of type 'number'", 1 MB of it); the guard checks the same
    types and the ranges too. Call after launch (the server exists then); whether it took effect."""
    from mcp.types import CallToolRequest  # only a served app with MCP tools needs it

    server = getattr(getattr(demo, "mcp_server_obj", None), "mcp_server", None)
    handler = server.request_handlers.get(CallToolRequest) if server is not None else None
    cells = dict(zip(handler.__code__.co_freevars, handler.__closure__ or ())) if handler else {}
    if "func" not in cells:
        return False
    server.call_tool(validate_input=False)(cells["func"].cell_contents)  # Gradio's own tool call
    return True
