"""Who is asking: the browser session of the event being handled, so that jobs, uploads and the
models made from them belong to the session that made them.

Gradio hands every event's `gr.Request` to its handler's context (set for each call and each step
of a generator), so handlers and the engine need no extra argument: `session_id()` reads it.
Outside a served event (tests, the warm-up, the Python API) the session is LOCAL.
"""
from __future__ import annotations

from gradio.context import LocalContext

LOCAL = "local"
# Gradio keeps each session's copy of the page's config and state (about 1.2 MB of RSS with this
# page, measured over `make soak` rounds) after the session closes, up to 10,000 sessions: 12 GB.
# Beyond this many the least recently used lose it: as many as the queue holds events
# (`app.py`, max_size), since a 2-core server cannot keep more visitors busy at once; an evicted
# visitor loses only the page's memory of its last run (the step slider of the direction field
# then does nothing until the next run) and of its shown upload.
MAX_SESSIONS = 64


def session_id() -> str:
    """The current event's session hash; LOCAL outside an event. A caller without a session
    hash gets one of its own per call (it can then reach nothing another session made)."""
    request = LocalContext.request.get(None)
    if request is None:
        return LOCAL
    return getattr(request, "session_hash", None) or f"anonymous-{id(request)}"
