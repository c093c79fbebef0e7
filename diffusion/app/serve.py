"""Serving the app to anonymous visitors: `serve(demo, **launch_kwargs)` launches it with the
server-wide limits (README "Reliability") that only exist once a server runs:

- uploads over MAX_UPLOAD are refused while they arrive (`max_file_size`);
- Gradio keeps the page state of at most MAX_SESSIONS sessions (`state_session_capacity`), each
  without a copy of the whole page's config (`sessions.LeanSessionState`);
- malloc keeps few arenas and gives free memory back (`memory`);
- the MCP tools' arguments reach the guard (`guard.mcp_through_guard`).
"""
from __future__ import annotations

import gradio as gr

from . import memory
from .guard import mcp_through_guard
from .sessions import MAX_SESSIONS, lean_session_state
from .train_handlers import MAX_UPLOAD


def serve(demo: gr.Blocks, **kwargs):
    """`demo.launch(**kwargs)` with the page's named API as MCP tools and the limits above; blocks
    unless `prevent_thread_lock`, like launch."""
    memory.limit_arenas()  # before the server's worker threads start
    lean_session_state()
    block = not kwargs.pop("prevent_thread_lock", False)
    out = demo.launch(mcp_server=True, max_file_size=MAX_UPLOAD, state_session_capacity=MAX_SESSIONS,
                      prevent_thread_lock=True, **kwargs)
    mcp_through_guard(demo)  # the MCP server exists once launched
    if block:
        demo.block_thread()
    return out
