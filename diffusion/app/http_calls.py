"""Call any event of a running app over plain HTTP, as a browser session does (queue/join with a
session hash, then the session's event stream), so that a test or the soak can act as several
visitors, send values no UI would send, and reach the events hidden from the API page.

    >>> s = Session("http://127.0.0.1:7860/")
    >>> ok, output, seconds = s.call("sample_points", ["spiral", 2, 100, "ddpm", 0, 1000, "cfg", ...])
    >>> s.call("stop", [])   # (True, ["No training job of yours is running."], 0.01)
"""
from __future__ import annotations

import json
import time
import uuid

import httpx


class Session:
    """One visitor: a session hash of its own, and the app's events by api name."""

    def __init__(self, url: str, session_hash: str | None = None, timeout: float = 120.0):
        self.url = url.rstrip("/") + "/"
        self.hash = session_hash or uuid.uuid4().hex[:11]
        self.http = httpx.Client(timeout=timeout)
        self.config = config = self.http.get(self.url + "config").json()
        self.events = {d["api_name"]: d["id"] for d in config["dependencies"] if d.get("api_name")}
        self.unqueued = {d["api_name"] for d in config["dependencies"] if d.get("api_name") and d.get("queue") is False}
        self.components = {c["id"]: c for c in config["components"]}

    def call(self, api_name: str, data: list, timeout: float = 120.0) -> tuple[bool, object, float]:
        """(success, the last output's data or the error message, seconds until the answer). One
        call at a time per session: a session's answers all come through one event stream. An event
        outside the queue (queue=False) is sent by `run`."""
        if api_name in self.unqueued:
            return self.run(api_name, data)
        start = time.perf_counter()
        body = {"data": data, "fn_index": self.events[api_name], "session_hash": self.hash, "event_data": None,
                "trigger_id": None}
        join = self.http.post(self.url + "gradio_api/queue/join", content=json.dumps(body),  # NaN as such
                              headers={"content-type": "application/json"})
        if join.status_code != 200:
            return False, join.text[:2000], time.perf_counter() - start
        event_id = join.json()["event_id"]
        output = None
        with self.http.stream("GET", self.url + "gradio_api/queue/data", params={"session_hash": self.hash},
                              timeout=timeout) as stream:
            for line in stream.iter_lines():  # the server sends a heartbeat at least every 15 s
                if time.perf_counter() - start > timeout:
                    break
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") != event_id:
                    continue
                if msg.get("msg") in ("process_generating", "process_completed") and msg.get("output"):
                    output = msg["output"]
                if msg.get("msg") == "process_completed":
                    seconds = time.perf_counter() - start
                    if msg.get("success"):
                        return True, output.get("data"), seconds
                    return False, str((output or {}).get("error") or output), seconds
        return False, f"no answer within {timeout:.0f} s", time.perf_counter() - start

    def run(self, api_name: str, data: list) -> tuple[bool, object, float]:
        """An event that skips the queue (queue=False), by a plain POST: like `call`."""
        start = time.perf_counter()
        r = self.http.post(self.url + f"gradio_api/run/{api_name}", content=json.dumps({"data": data, "session_hash":
                           self.hash}), headers={"content-type": "application/json"})  # NaN as such
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {"error": r.text}
        ok = r.status_code == 200
        return ok, body.get("data") if ok else str(body.get("error"))[:2000], time.perf_counter() - start

    def upload(self, files: dict[str, bytes]) -> tuple[int, object]:
        """POST files to the app's upload route: (HTTP status, the server-side paths or the error)."""
        r = self.http.post(self.url + "gradio_api/upload", files=[("files", (k, v)) for k, v in files.items()])
        return r.status_code, (r.json() if r.status_code == 200 else r.text[:500])

    def close(self) -> None:
        self.http.close()


def file_data(path: str) -> dict:
    """An uploaded file as an event's input value."""
    return {"path": path, "meta": {"_type": "gradio.FileData"}}
