"""Who is asking: the browser session of the event being handled, so that jobs, uploads and the
models made from them belong to the session that made them.

Gradio hands every event's `gr.Request` to its handler's context (set for each call and each step
of a generator), so handlers and the engine need no extra argument: `session_id()` reads it.
Outside a served event (tests, the warm-up, the Python API) the session is LOCAL.
"""
from __future__ import annotations

from gradio.context import LocalContext

LOCAL = "local"
# Gradio keeps each session's copy of the page's state (~0.4 MB with this page) for an hour after
# the session closes, and up to 10,000 sessions: 4 GB. The least recently used go beyond this many.
MAX_SESSIONS = 300


def session_id() -> str:
    """The current event's session hash; LOCAL outside an event. A caller without a session
    hash gets one of its own per call (it can then reach nothing another session made)."""
    request = LocalContext.request.get(None)
    if request is None:
        return LOCAL
    return getattr(request, "session_hash", None) or f"anonymous-{id(request)}"
