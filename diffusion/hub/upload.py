"""Load a checkpoint that a user uploads, safely: `load_uploaded(paths) -> Checkpoint`.

Accepts the individual files (config.json, model.safetensors, diffusion.json; optionally
history.json and README.md) or one .zip holding them (flat or inside one folder). Nothing is
unpickled: only JSON and safetensors are read, and everything is checked before a model is built:
file names and sizes, zip members, diffusion.json and config.json keys and ranges, and the
safetensors header's tensor names, shapes and dtypes against the model the config describes.
Accepted files end up in a fresh temp folder (a zip's members are written there once) and are
loaded with `load_checkpoint`.
Every rejection is an `UploadError` (a ValueError) whose one-line message says what is allowed.
The way out is `zip_checkpoint(folder)`: what a user downloads, this module takes back.
"""
from __future__ import annotations

import json
import math
import os
import posixpath
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import fields
from pathlib import Path

import torch

from ..core.checks import first_line as _first
from ..core.schedules import SCHEDULES
from ..models.checkpoint import ARCHITECTURES, Checkpoint, DiffusionConfig, load_checkpoint
from ..worlds import get_world, world_names

REQUIRED = ("config.json", "model.safetensors", "diffusion.json")
OPTIONAL = ("history.json", "README.md")
CHECKPOINT_FILES = REQUIRED + OPTIONAL  # all a user gets or gives; never the train state
MB, KB = 1 << 20, 1 << 10
LIMITS = {"model.safetensors": 64 * MB, "config.json": 64 * KB, "diffusion.json": 64 * KB,
          "history.json": 1 * MB, "README.md": 256 * KB}  # history.json of a long run is ~100 KB
MAX_ZIP_TOTAL = 70 * MB  # uncompressed
MAX_ZIP_ENTRIES = 50  # five files, plus folders and whatever an archiver adds
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".npy", ".npz", ".joblib")
ZIP_JUNK = ("__MACOSX/", ".DS_Store")  # what macOS's "Compress" adds; skipped, never read
DTYPES = ("F32", "F16", "BF16")
# config.json: the constructor's arguments and their ranges (num_classes is checked against labels).
MODEL_ARGS = {
    "PointDenoiser": {"num_classes": (1, 10), "width": (8, 1024), "depth": (1, 12), "fourier": (0, 16)},
    "UNet": {"num_classes": (1, 10), "channels": (4, 256), "emb_dim": (8, 1024), "dropout": (0.0, 0.9),
             "extra_blocks": (0, 2)}}
LIST_ARGS = ("channels", "extra_blocks")  # 3 integers each, one per resolution
OPTIONAL_ARGS = ("extra_blocks",)  # newer than the first checkpoints, so configs may lack it
# A joined checkpoint (`python -m diffusion.join`): one model of the world's architecture per guidance branch,
# config.json holding each branch's arguments under its name (join.check_pair reads the branch architecture here).
JOINED = {"BranchUNets": ("UNet", ("cond", "uncond"))}
# diffusion.json: DiffusionConfig's fields; the first three are required, the others have defaults.
DIFFUSION_KEYS = tuple(f.name for f in fields(DiffusionConfig))
DEFAULTS = {f.name: f.default for f in fields(DiffusionConfig)[3:]}


class UploadError(ValueError):
    """An uploaded checkpoint was refused; the message says what was wrong and what is allowed."""


def _allowed() -> str:
    return ", ".join(REQUIRED) + " (and optionally " + ", ".join(OPTIONAL) + ")"


def _check_name(name: str) -> None:
    if name in LIMITS:
        return
    if name.lower().endswith(PICKLE_SUFFIXES):
        raise UploadError(f"refusing {name!r}: pickle-based files can run code when loaded; upload "
                          f"the weights as model.safetensors")
    raise UploadError(f"unexpected file {name!r}; allowed: {_allowed()}, or one .zip of them")


def _check_size(name: str, size: int) -> None:
    if size > LIMITS[name]:
        raise UploadError(f"{name} is {size / KB:,.0f} KB; allowed: at most {LIMITS[name] / KB:,.0f} KB")


def _from_files(paths: list[Path]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for p in paths:
        _check_name(p.name)
        if p.name in files:
            raise UploadError(f"{p.name} was given twice; upload each file once")
        if not p.is_file():
            raise UploadError(f"{p.name} is not a readable file")
        _check_size(p.name, p.stat().st_size)
        files[p.name] = p
    return files


def _from_zip(path: Path, work: Path) -> dict[str, Path]:
    """Extract the allowed members of a checked zip into work/; flat or inside one folder."""
    if path.stat().st_size > MAX_ZIP_TOTAL:
        raise UploadError(f"{path.name} is {path.stat().st_size / MB:.3g} MB; allowed: at most "
                          f"{MAX_ZIP_TOTAL / MB:.3g} MB")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise UploadError(f"{path.name} is not a readable zip file ({e})") from None
    with z:
        members, folders, total = {}, set(), 0
        if len(z.infolist()) > MAX_ZIP_ENTRIES:
            raise UploadError(f"{path.name} holds {len(z.infolist())} entries; allowed: at most "
                              f"{MAX_ZIP_ENTRIES}")
        for info in z.infolist():
            name = info.filename
            if info.is_dir() or any(j in name for j in ZIP_JUNK):
                continue
            parts = name.split("/")
            if "\\" in name or posixpath.isabs(name) or ".." in parts or len(parts) > 2:
                raise UploadError(f"zip member {name!r} has a path outside one folder; allowed: the "
                                  f"files at the top or inside one folder")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise UploadError(f"zip member {name!r} is a symbolic link; allowed: plain files only")
            _check_name(parts[-1])
            if parts[-1] in members:
                raise UploadError(f"the zip holds {parts[-1]} twice; allowed: one of each file")
            _check_size(parts[-1], info.file_size)
            total += info.file_size
            if total > MAX_ZIP_TOTAL:
                raise UploadError(f"{path.name} unpacks to more than {MAX_ZIP_TOTAL / MB:.3g} MB; allowed: "
                                  f"at most {MAX_ZIP_TOTAL / MB:.3g} MB")
            folders.add(parts[0] if len(parts) == 2 else "")
            members[parts[-1]] = info
        if len(folders) > 1:
            raise UploadError(f"{path.name} spreads its files over {len(folders)} folders; allowed: "
                              f"all at the top or all inside one folder")
        files = {}
        for name, info in members.items():
            try:
                with z.open(info) as src:  # the header's size may lie: read at most the limit + 1
                    data = src.read(LIMITS[name] + 1)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, zlib.error) as e:
                # corrupt, encrypted or an unsupported compression method
                raise UploadError(f"{path.name}: cannot read {info.filename!r} ({_first(e)}); allowed: "
                                  f"a plain (stored or deflated) zip") from None
            _check_size(name, len(data))
            (work / name).write_bytes(data)
            files[name] = work / name
    return files


def _read_json(files: dict[str, Path], name: str) -> dict:
    def refuse(constant):  # NaN and Infinity are not JSON
        raise ValueError(f"{constant} is not allowed")
    try:
        value = json.loads(files[name].read_text(encoding="utf-8"), parse_constant=refuse)
    except (ValueError, UnicodeDecodeError) as e:
        raise UploadError(f"{name} is not valid JSON: {_first(e)}") from None
    if not isinstance(value, dict):
        raise UploadError(f"{name} must hold a JSON object, not {type(value).__name__}")
    return value


def _number(where: str, key: str, value, lo, hi, integer: bool = True) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not (lo <= value <= hi) or \
            (isinstance(value, float) and not math.isfinite(value)):
        kind = "an integer" if integer else "a number"
        raise UploadError(f"{where}: {key}={value!r} is not allowed; allowed: {kind} in {lo}..{hi}")


def check_diffusion(raw: dict) -> dict:
    """diffusion.json's keys and values (lenet, or anything else, is not a world one samples from)."""
    if set(raw) - set(DIFFUSION_KEYS) or set(DIFFUSION_KEYS[:3]) - set(raw):
        raise UploadError(f"diffusion.json has keys {sorted(raw)}; allowed: {', '.join(DIFFUSION_KEYS)} "
                          f"(world, labels and architecture required)")
    world = raw["world"]
    if not isinstance(world, str) or world not in world_names():
        raise UploadError(f"diffusion.json: world={world!r} is not allowed; allowed: {', '.join(world_names())}")
    architecture = get_world(world).architecture
    allowed_archs = [architecture] + [name for name, (inner, _) in JOINED.items() if inner == architecture]
    if raw["architecture"] not in allowed_archs:
        raise UploadError(f"diffusion.json: architecture={raw['architecture']!r} does not fit world "
                          f"{world!r}; allowed: {', '.join(allowed_archs)}")
    labels, allowed = raw["labels"], get_world(world).labels
    if not isinstance(labels, list) or not all(isinstance(v, str) and v in allowed for v in labels) \
            or not 1 <= len(set(labels)) == len(labels):
        raise UploadError(f"diffusion.json: labels={labels!r} are not allowed for {world}; allowed: "
                          f"a list of 1 to {len(allowed)} distinct names of {', '.join(allowed)}")
    if raw.get("schedule", DEFAULTS["schedule"]) not in SCHEDULES:
        raise UploadError(f"diffusion.json: schedule={raw['schedule']!r} is not allowed; allowed: "
                          f"{', '.join(SCHEDULES)}")
    _number("diffusion.json", "timesteps", raw.get("timesteps", DEFAULTS["timesteps"]), 1, 4000)
    _number("diffusion.json", "p_uncond", raw.get("p_uncond", DEFAULTS["p_uncond"]), 0, 1, integer=False)
    return raw


def check_model_config(raw: dict, architecture: str, num_labels: int, where: str = "config.json") -> dict:
    """config.json: exactly the constructor's arguments, in range, num_classes == len(labels); a joined
    architecture's branches each checked as its inner architecture."""
    if architecture in JOINED:
        inner, branches = JOINED[architecture]
        if set(raw) != set(branches) or not all(isinstance(raw[b], dict) for b in branches):
            raise UploadError(f"{where} has keys {sorted(raw)}; allowed for {architecture}: exactly "
                              f"{sorted(branches)}, each an object of {inner} arguments")
        for b in branches:
            check_model_config(raw[b], inner, num_labels, f"{where} {b}")
        return raw
    spec = MODEL_ARGS[architecture]
    required = set(spec) - set(OPTIONAL_ARGS)
    if not required <= set(raw) <= set(spec):
        optional = sorted(set(spec) & set(OPTIONAL_ARGS))
        raise UploadError(f"{where} has keys {sorted(raw)}; allowed for {architecture}: "
                          f"exactly {sorted(required)}" + (f", optionally {optional}" if optional else ""))
    for key, value in raw.items():
        lo, hi = spec[key]
        if key in LIST_ARGS:
            if not isinstance(value, list) or len(value) != 3:
                raise UploadError(f"{where}: {key}={value!r} is not allowed; allowed: "
                                  f"3 integers in {lo}..{hi}")
            for v in value:
                _number(where, key, v, lo, hi)
        else:
            _number(where, key, value, lo, hi, integer=key != "dropout")
    if raw["num_classes"] != num_labels:
        raise UploadError(f"{where}: num_classes={raw['num_classes']} but diffusion.json names "
                          f"{num_labels} labels; they must be equal")
    return raw


def check_weights(path: Path, architecture: str, config: dict) -> None:
    """Compare the safetensors header with a model built on the meta device (no memory, no data)."""
    from safetensors import SafetensorError, safe_open
    try:
        with torch.device("meta"):
            model = ARCHITECTURES[architecture](**config)
        expected = {k: list(v.shape) for k, v in model.state_dict().items()}
    except Exception as e:  # e.g. channel counts GroupNorm cannot split
        raise UploadError(f"config.json does not describe a buildable {architecture}: {_first(e)}") from None
    try:
        with safe_open(str(path), "pt") as f:
            header = {k: (f.get_slice(k).get_shape(), f.get_slice(k).get_dtype()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise UploadError(f"model.safetensors is not a valid safetensors file: {_first(e)}") from None
    missing, unexpected = sorted(set(expected) - set(header)), sorted(set(header) - set(expected))
    if missing or unexpected:
        raise UploadError(f"model.safetensors does not fit config.json: missing {missing[:3]}, unexpected "
                          f"{unexpected[:3]}; allowed: exactly the {architecture}'s {len(expected)} tensors")
    for key, shape in expected.items():
        got, dtype = header[key]
        if list(got) != shape:
            raise UploadError(f"model.safetensors: {key} has shape {list(got)} but config.json needs {shape}")
        if dtype not in DTYPES:
            raise UploadError(f"model.safetensors: {key} has dtype {dtype}; allowed: {', '.join(DTYPES)}")


def load_uploaded(paths, root: str | Path | None = None) -> Checkpoint:
    """The checked, loaded checkpoint; `paths` are uploaded file paths (or one path).
    The accepted files end up in a fresh folder under `root` (default: the system temp folder)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths or []]
    if not paths:
        raise UploadError(f"files=[] is not allowed (no files uploaded); allowed: {_allowed()}, or one .zip of them")
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=root))
    out = folder / "checkpoint"
    out.mkdir()
    try:
        if any(p.suffix.lower() == ".zip" for p in paths):
            if len(paths) != 1:
                raise UploadError("upload either one .zip or the individual files, not both")
            files = _from_zip(paths[0], out)
        else:
            files = _from_files(paths)
        missing = [n for n in REQUIRED if n not in files]
        if missing:
            raise UploadError(f"{', '.join(missing)} missing; needed: {_allowed()}")
        diffusion = check_diffusion(_read_json(files, "diffusion.json"))
        config = check_model_config(_read_json(files, "config.json"), diffusion["architecture"],
                                    len(diffusion["labels"]))
        if "history.json" in files:
            _read_json(files, "history.json")
        check_weights(files["model.safetensors"], diffusion["architecture"], config)
        for name, src in files.items():
            if src.parent != out:  # individual uploads live in the server's temp files
                shutil.copyfile(src, out / name)
        try:
            return load_checkpoint(out, diffusion["world"])
        except ValueError as e:  # CheckpointError: e.g. weights that fail to load after all
            raise UploadError(f"the checkpoint does not load: {_first(e)}") from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def zip_checkpoint(folder: str | Path, out: str | Path | None = None) -> Path:
    """folder's checkpoint files (no train state) in one zip, inside a folder named like it;
    default out: folder + ".zip"."""
    folder = Path(folder)
    out = Path(out) if out is not None else folder.with_name(folder.name + ".zip")
    missing = [n for n in REQUIRED if not (folder / n).is_file()]
    if missing:
        raise ValueError(f"{folder} is not a checkpoint: {', '.join(missing)} missing")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in CHECKPOINT_FILES:
            if (folder / name).is_file():
                z.write(folder / name, f"{folder.name}/{name}")
    return out
