"""Publish to the Hugging Face Hub: a checkpoint as a model repo, or the whole app as a Space.

  python -m diffusion.push --repo USER/NAME [--folder checkpoints/mnist] [--private]
      a model repo: the folder's *.json, *.safetensors and *.md (its model card), no train state
  python -m diffusion.push --repo USER/NAME --kind space [--folder .] [--private]
      a Gradio Space: app.py, requirements.txt, README.md, diffusion/**.py, the checkpoints
      (json, safetensors, md; no train state, no .old/.tmp leftovers) and docs/*.png
  --token TOKEN (default: $HF_TOKEN or `huggingface-cli login`), --dry-run lists what would go.

Exit codes: 0 uploaded, 1 the Hub refused (network, token, permissions), 2 bad input.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from ..inputs import Parser, first_line, run
from ..models.checkpoint import REPO_ROOT
from ..worlds.mnist import MNIST

KINDS = ("model", "space")
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
# Patterns as huggingface_hub matches them (fnmatch on the path relative to the folder: "*" also
# matches "/"). `upload_folder` applies them; `selected_files` lists the same selection locally.
MODEL_ALLOW = ["*.json", "*.safetensors", "*.md"]
MODEL_IGNORE = ["*train_state*", "*/*"]  # the train state is for resuming, not for users
SPACE_ALLOW = ["app.py", "requirements.txt", "README.md", "diffusion/*.py", "checkpoints/*.json",
               "checkpoints/*.safetensors", "checkpoints/*.md", "docs/*.png"]
SPACE_IGNORE = ["*train_state*", "checkpoints/*.old/*", "checkpoints/*.tmp/*", ".venv/*", "tests/*",
                "logs/*", "*__pycache__*", ".*/*"]
SPACE_NEEDS = ("app.py", "requirements.txt")
MODEL_NEEDS = ("config.json", "model.safetensors")


def build_parser() -> Parser:
    ap = Parser(prog="python -m diffusion.push", description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True, help="the Hub repo id, USER/NAME")
    ap.add_argument("--kind", default="model", choices=KINDS, help="model (a checkpoint) or space (the app)")
    ap.add_argument("--folder", help="model: a checkpoint folder (default checkpoints/mnist); "
                                     "space: the project folder (default: this project)")
    ap.add_argument("--token", help="a Hub token with write access (default: $HF_TOKEN or the saved login)")
    ap.add_argument("--private", action="store_true", help="create the repo as private")
    ap.add_argument("--dry-run", action="store_true", help="list the files, upload nothing")
    return ap


def check_repo_id(repo: str) -> str:
    if not REPO_ID.fullmatch(repo or "") or ".." in repo:
        raise ValueError(f"--repo {repo!r} is not a repo id; allowed: USER/NAME with exactly one '/', "
                         f"each part letters, digits, '-', '_' or '.'")
    return repo


def selected_files(folder: Path, allow: list[str], ignore: list[str]) -> list[str]:
    """The folder's files (relative, "/"-separated) that upload_folder would send."""
    from huggingface_hub.utils import filter_repo_objects
    paths = []
    for top, dirs, names in os.walk(folder):
        # Prune what is never uploaded anyway (.venv alone holds ~100k files).
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        paths += [(Path(top) / n).relative_to(folder).as_posix() for n in names]
    return list(filter_repo_objects(sorted(paths), allow_patterns=allow, ignore_patterns=ignore))


def plan(kind: str, folder: str | None) -> tuple[Path, list[str], list[str]]:
    """(folder, allow, ignore) for the kind; ValueError if the folder lacks what it needs."""
    path = Path(folder) if folder else (MNIST.checkpoint_dir if kind == "model" else REPO_ROOT)
    needs = MODEL_NEEDS if kind == "model" else SPACE_NEEDS
    what = "checkpoint" if kind == "model" else "Space"
    if not path.is_dir():
        raise ValueError(f"--folder {str(path)!r} is not a folder; allowed: a {what} folder holding "
                         f"{', '.join(needs)}")
    missing = [n for n in needs if not (path / n).is_file()]
    if missing:
        raise ValueError(f"--folder {str(path)!r} has no {', '.join(missing)}; a {what} needs {', '.join(needs)}")
    if kind == "model":
        return path, MODEL_ALLOW, MODEL_IGNORE
    return path, SPACE_ALLOW, SPACE_IGNORE


def _space_card_warning(folder: Path) -> str | None:
    """A Space is configured by its README's YAML front matter; say so if it has none."""
    readme = folder / "README.md"
    text = readme.read_text(encoding="utf-8", errors="replace") if readme.is_file() else ""
    if not text.startswith("---") or "sdk: gradio" not in text:
        return ("warning: README.md has no Space front matter (---, sdk: gradio, app_file: app.py, ---): "
                "the Hub will not know how to run the Space")
    return None


def _main(argv, api) -> int:
    args = build_parser().parse_args(argv)
    repo = check_repo_id(args.repo)
    folder, allow, ignore = plan(args.kind, args.folder)
    files = selected_files(folder, allow, ignore)
    size = sum((folder / f).stat().st_size for f in files) / (1 << 20)
    print(f"{'would upload' if args.dry_run else 'uploading'} {len(files)} files ({size:.1f} MB) "
          f"from {folder} to the {args.kind} repo {repo}", file=sys.stderr)
    if args.kind == "space" and (warning := _space_card_warning(folder)):
        print(warning, file=sys.stderr)
    if args.dry_run:
        print("\n".join(files))
        return 0
    if api is None:
        from huggingface_hub import HfApi
        api = HfApi(token=args.token)
    repo_type = args.kind
    extra = {"space_sdk": "gradio"} if repo_type == "space" else {}
    try:
        api.create_repo(repo, repo_type=repo_type, private=args.private or None, exist_ok=True, **extra)
        api.upload_folder(repo_id=repo, folder_path=str(folder), repo_type=repo_type,
                          allow_patterns=allow, ignore_patterns=ignore,
                          commit_message=f"Upload {'the app' if repo_type == 'space' else 'checkpoint'} "
                                         f"with python -m diffusion.push")
    except Exception as e:  # no token, no network, no permission: the Hub's own words, one line
        print(f"error: the Hub refused the upload to {repo}: {first_line(e)}", file=sys.stderr)
        return 1
    url = f"https://huggingface.co/{'spaces/' if repo_type == 'space' else ''}{repo}"
    print(url)
    return 0


def main(argv: list[str] | None = None, api=None) -> int:
    """The exit code. `api` stands in for huggingface_hub.HfApi (tests pass a recording fake)."""
    try:
        return run(lambda a: _main(a, api), argv)
    except SystemExit as e:  # argparse: --help (0) or a bad option (2, one line already printed)
        return e.code if isinstance(e.code, int) else 2


if __name__ == "__main__":
    sys.exit(main())
