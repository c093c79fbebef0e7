"""The app's output folder, kept bounded: each cached result's files (PNG, .npy, GIF, MP4) live in
a folder of their own that is deleted when the result leaves the engine's cache, and the whole
folder is capped (oldest entries go first) for what no cache tracks (the comparison's grids).
Gradio copies every returned file into its own cache (cleaned by `delete_cache`), so deleting
ours after the reply is safe.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

OUT = Path(tempfile.gettempdir()) / "guided-diffusion-explorer"
MAX_OUT_BYTES = 300 << 20  # a 64-digit x 100-step result writes ~3 MB; grids ~0.3 MB each
_lock = threading.Lock()


def forget_files(result) -> None:
    """Delete a result's files (it left the cache); a later hit writes them again."""
    paths = list(result.artifacts.values())
    result.artifacts.clear()
    if paths:
        shutil.rmtree(Path(paths[0]).parent, ignore_errors=True)


def files_exist(result, kind: str) -> bool:
    """Whether the result's file of this kind ("png", "gif", ...) was written and is still there."""
    return kind in result.artifacts and Path(result.artifacts[kind]).is_file()


def size(folder: Path = OUT) -> int:
    """Bytes under folder."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def cap(folder: Path = OUT, max_bytes: int = MAX_OUT_BYTES) -> None:
    """Delete folder's oldest entries (files or result folders) until it holds at most max_bytes."""
    with _lock:
        if not folder.exists():
            return
        entries = []
        for p in folder.iterdir():
            try:
                entries.append((p.stat().st_mtime, size(p) if p.is_dir() else p.stat().st_size, p))
            except OSError:  # deleted meanwhile
                continue
        total = sum(e[1] for e in entries)
        for _, nbytes, p in sorted(entries, key=lambda e: e[0]):
            if total <= max_bytes:
                break
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            total -= nbytes
