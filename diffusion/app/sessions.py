"""Who is asking: the browser session of the event being handled, so that jobs, uploads and the
models made from them belong to the session that made them.

Gradio hands every event's `gr.Request` to its handler's context (set for each call and each step
of a generator), so handlers and the engine need no extra argument: `session_id()` reads it.
Outside a served event (tests, the warm-up, the Python API) the session is LOCAL.
"""
from __future__ import annotations

from types import SimpleNamespace

from gradio import state_holder
from gradio.context import LocalContext

LOCAL = "local"
# Gradio keeps each session's page state after the session closes, up to 10,000 sessions. Beyond
# this many the least recently used lose it: as many as the queue holds events (`app.py`,
# max_size), since a 2-core server cannot keep more visitors busy at once; an evicted visitor loses
# only the page's memory of its last run (the step slider of the direction field then does nothing
# until the next run) and of its shown upload.
MAX_SESSIONS = 64


class LeanSessionState(state_holder.SessionState):
    """Gradio's per-session page state without its up-front copy of every block's config.

    Upstream builds that copy (about 2,600 small objects, 0.4 MB with this page's 249 blocks, and
    about 1.2 MB of RSS once the heap has fragmented around it) for every new session, anonymous
    API callers included, and reads it only for deep links (`components`). Here a block's config
    is made when the session updates that block, as upstream does for blocks it lacks, and the
    rest when `components` is asked for; the state values themselves are untouched.
    """

    def __init__(self, blocks):
        # upstream copies the config of the blocks in `blocks.blocks`: given none, it copies none
        super().__init__(SimpleNamespace(default_config=blocks.default_config, blocks={}))
        self._page_blocks = blocks.blocks

    @property
    def components(self):
        for k, block in self.blocks_config.blocks.items():
            if k in self._page_blocks and k not in self.config_values:
                self.config_values[k] = self.blocks_config.config_for_block(k, [], block)
        return super().components


def lean_session_state() -> None:
    """Gradio's state holder makes LeanSessionState from now on (the server's page states)."""
    state_holder.SessionState = LeanSessionState


def session_id() -> str:
    """The current event's session hash; LOCAL outside an event. A caller without a session
    hash gets one of its own per call (it can then reach nothing another session made)."""
    request = LocalContext.request.get(None)
    if request is None:
        return LOCAL
    return getattr(request, "session_hash", None) or f"anonymous-{id(request)}"
