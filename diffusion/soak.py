"""`make soak`: the app under load on loopback, and one table of what it did.

    python -m diffusion.soak [--clients 16] [--seconds 60] [--rounds 3] [--no-fuzz]

Starts `app.py` on a free local port (with a temp folder of its own, so that its disk, the output
folder and Gradio's cache, is measured alone), then per round: `clients` visitors for `seconds` of valid mixed calls (half answered from
the cache, half fresh seeds), the heaviest request the budget allows with a cache hit sent during
it, and 10 checkpoint uploads from 5 sessions (each closed after its two). Once at the end: every hostile value through every
event (`diffusion.app.hostile`). Prints calls, errors, latency p50/p95 of hits and misses, RSS and
disk (the output folder and Gradio's cache) before/peak/after per round, and the slowest refusal.
`load` is also what the reliability test runs, briefly.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .app.http_calls import Session, file_data
from .budget import heaviest
from .inputs import PUBLIC_PARAMS, param_default
from .models.checkpoint import CHECKPOINTS

ROOT = Path(__file__).resolve().parent.parent
PARAMS = [param_default(k) for k in PUBLIC_PARAMS]  # every method parameter at its default, in API order
HOT = [("sample_points", ["spiral", 2, 50, "ddim", 0, 1000, "cfg", *PARAMS]),
       ("sample_digits", ["3", 2, 25, "ddim", 0, 16, "cfg", *PARAMS])]
EXTRA = 12  # calls per round besides the load: 10 uploads, the heaviest request, the hit sent during it


def heaviest_call(seed: int) -> tuple[str, list]:
    """The heaviest request the budget allows (`budget.heaviest`: MNIST's admit_n digits at its default
    steps, guided), with a seed of its own."""
    w = heaviest()
    d = w.sampling
    return f"sample_{w.noun}", [w.default_label, 2, d["steps"], d["sampler"], seed, w.sizes.admit_n, "cfg", *PARAMS]


def fresh(k: int) -> tuple[str, list]:
    """A request nobody asked for before (a new seed): a miss."""
    event, args = HOT[k % 2]
    return event, args[:4] + [1000 + k] + args[5:]


@dataclass
class Load:
    hits: list[float] = field(default_factory=list)
    misses: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return len(self.hits) + len(self.misses) + len(self.errors)


def load(url: str, clients: int, seconds: float, start: int = 0) -> Load:
    """`clients` sessions calling in turn (odd calls hits, even calls fresh) for `seconds`."""
    for event, args in HOT:  # the hits' results are computed before the clock starts
        Session(url).call(event, args)
    out, lock, end = Load(), threading.Lock(), time.monotonic() + seconds

    def client(c: int):
        s = Session(url)
        k = 0
        while time.monotonic() < end:
            hit = k % 2 == 1
            event, args = HOT[(c + k) % 2] if hit else fresh(start + c * 100_000 + k)
            ok, reply, took = s.call(event, args)
            with lock:
                if not ok:
                    out.errors.append(str(reply)[:200])
                else:
                    (out.hits if hit else out.misses).append(took)
            k += 1
        s.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def checkpoint_zip() -> bytes:
    """The shipped 2D checkpoint as a user would upload it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in ("config.json", "model.safetensors", "diffusion.json"):
            z.write(CHECKPOINTS / "points" / name, f"points/{name}")
    return buf.getvalue()


def uploads(url: str, count: int = 10, each: int = 2) -> list[str]:
    """`count` accepted uploads, `each` per session, each session closed after its uploads (the
    server keeps at most MAX_MADE models); the errors (none expected)."""
    data, errors = checkpoint_zip(), []
    for _ in range(0, count, each):
        s = Session(url)
        for _ in range(each):
            status, paths = s.upload({"points.zip": data})
            ok, reply, _ = s.call("use_upload", [[file_data(paths[0])]]) if status == 200 else (False, paths, 0)
            if not ok:
                errors.append(str(reply)[:200])
        s.call("forget", [])  # what a closed tab does: its models and uploads go
        s.close()
    return errors


class Monitor(threading.Thread):
    """The server's RSS and the disk of `folders`, sampled every half second."""

    def __init__(self, pid: int, folders: list[Path]):
        super().__init__(daemon=True)
        self.pid, self.folders, self.samples, self.running = pid, folders, [], True

    def measure(self) -> tuple[float, float]:
        rss = 0.0
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
        disk = sum(p.stat().st_size for f in self.folders if f.exists() for p in f.rglob("*") if p.is_file())
        return rss, disk / 2 ** 20

    def run(self):
        while self.running:
            try:
                self.samples.append(self.measure())
            except OSError:  # a file deleted while it was measured
                pass
            time.sleep(0.5)

    def span(self) -> dict:
        """before / peak / after of RSS and disk (MB) since the last span."""
        s, self.samples = self.samples, self.samples[-1:]
        return {k: (s[0][i], max(x[i] for x in s), s[-1][i]) for i, k in enumerate(("rss", "disk"))}


def pct(xs: list[float], q: float) -> str:
    return f"{np.percentile(xs, q):.2f}" if xs else "-"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int, tmp: Path, log) -> subprocess.Popen:
    """`python app.py` on loopback at `port`, every file it writes (its outputs, uploads, jobs and
    Gradio's cache) under `tmp`, its log into `log`."""
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", TMPDIR=str(tmp))
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, cwd=ROOT, stdout=log, stderr=log)
    for _ in range(240):
        try:
            Session(f"http://127.0.0.1:{port}/").close()
            return proc
        except Exception:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the app did not start within 120 s")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-fuzz", action="store_true")
    a = p.parse_args(argv)
    from .app.hostile import fuzz
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="gde-soak-"))
    url = f"http://127.0.0.1:{port}/"
    log = tempfile.NamedTemporaryFile("w+", prefix="gde-soak-", suffix=".log")
    proc = serve(port, tmp, log)
    mon = Monitor(proc.pid, [tmp])
    mon.start()
    rows = []
    try:
        time.sleep(20)  # the warm-up precomputes the examples
        for r in range(a.rounds):
            res = load(url, a.clients, a.seconds, start=r * 10_000_000)
            heavy: dict = {}

            def heaviest(r=r):
                answer = Session(url).call(*heaviest_call(100 + r), timeout=300)
                heavy.update(zip(("ok", "reply", "s"), answer))
            t = threading.Thread(target=heaviest)
            t.start()
            time.sleep(3)
            ok, _, hit_during = Session(url).call(*HOT[1])
            t.join()
            errors = res.errors + uploads(url) + ([] if heavy["ok"] and ok else [str(heavy["reply"])[:200]])
            span = mon.span()
            rows.append((r + 1, res, heavy["s"], hit_during, errors, span))
        slowest = None
        if not a.no_fuzz:
            answers = fuzz(Session(url))
            bad = [p for _, p in answers if p]
            slowest = max(answers, key=lambda x: x[0].seconds if not x[0].ok else 0)[0]
    finally:
        mon.running = False
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    log.seek(0)
    text = log.read()
    print(f"\nsoak: {a.clients} clients x {a.seconds:.0f} s per round, loopback, {os.cpu_count()} cores")
    print("| round | calls | errors | hit p50 / p95 (s) | miss p50 / p95 (s) | heaviest (s) | hit during it (s) "
          "| RSS MB before / peak / after | disk MB before / peak / after |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r, res, heavy_s, hit_s, errors, span in rows:
        rss, disk = span["rss"], span["disk"]
        print(f"| {r} | {res.calls + EXTRA} | {len(errors)} | {pct(res.hits, 50)} / {pct(res.hits, 95)} | "
              f"{pct(res.misses, 50)} / {pct(res.misses, 95)} | {heavy_s:.1f} | {hit_s:.2f} | "
              f"{rss[0]:.0f} / {rss[1]:.0f} / {rss[2]:.0f} | {disk[0]:.0f} / {disk[1]:.0f} / {disk[2]:.0f} |")
        for e in errors[:3]:
            print(f"  error: {e}")
    if slowest is not None:
        print(f"hostile values: {len(answers)} calls, {len(bad)} wrong answers; slowest refusal "
              f"{slowest.seconds:.2f} s ({slowest.event}); tracebacks in the server log: {text.count('Traceback')}")
        for b in bad[:10]:
            print(f"  wrong: {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
