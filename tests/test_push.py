"""Publishing to the Hub, against a fake HfApi that records its calls: what a model repo and a Space
get (and never: train state, leftovers, tests, logs, the venv), and one-line errors for bad input."""
from pathlib import Path

import pytest

from diffusion.push import main


class FakeApi:
    """Records create_repo/upload_folder and, like the real upload_folder, which files the
    patterns select; `fail` makes create_repo raise as the Hub does without a token."""

    def __init__(self, fail: Exception | None = None):
        self.calls, self.fail = [], fail

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))
        if self.fail:
            raise self.fail
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw))
        # What the real upload_folder does: every file under the folder (no pruning), filtered by
        # the patterns alone, so that the patterns themselves are what these tests check.
        from huggingface_hub.utils import filter_repo_objects
        root = Path(kw["folder_path"])
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        self.sent = list(filter_repo_objects(files, allow_patterns=kw["allow_patterns"],
                                             ignore_patterns=kw["ignore_patterns"]))


def touch(root, *names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    return root


CHECKPOINT = ["config.json", "model.safetensors", "diffusion.json", "history.json", "README.md"]


@pytest.fixture
def checkpoint(tmp_path):
    return touch(tmp_path / "ck", *CHECKPOINT, "train_state.json", "train_state.safetensors", "notes.txt",
                 "sub/config.json")


@pytest.fixture
def project(tmp_path):
    root = touch(tmp_path / "project", "app.py", "requirements.txt", "diffusion/__init__.py",
                 "diffusion/api.py", "diffusion/sub/extra.py", "diffusion/__pycache__/api.cpython-312.pyc",
                 "checkpoints/points/config.json", "checkpoints/points/model.safetensors",
                 "checkpoints/points/README.md", "checkpoints/mnist/train_state.safetensors",
                 "checkpoints/mnist/train_state.json", "checkpoints/mnist.old/config.json",
                 "checkpoints/mnist.tmp/model.safetensors", "docs/screenshot.png", "docs/notes.txt",
                 "tests/test_app.py", "logs/train.log", ".venv/lib/site.py", ".git/config", "Makefile")
    (root / "README.md").write_text("---\ntitle: Explorer\nsdk: gradio\napp_file: app.py\n---\n")
    return root


def test_model_repo_gets_the_checkpoint_files_only(checkpoint, capsys):
    api = FakeApi()
    assert main(["--repo", "me/tiny-ddpm", "--folder", str(checkpoint)], api=api) == 0
    (name, repo, kw), (name2, up) = api.calls
    assert (name, repo, name2) == ("create_repo", "me/tiny-ddpm", "upload_folder")
    assert kw == {"repo_type": "model", "private": None, "exist_ok": True}
    assert (up["repo_id"], up["repo_type"], up["folder_path"]) == ("me/tiny-ddpm", "model", str(checkpoint))
    assert api.sent == sorted(CHECKPOINT)
    out = capsys.readouterr()
    assert out.out.strip() == "https://huggingface.co/me/tiny-ddpm"
    assert "uploading 5 files" in out.err


def test_space_gets_the_app_and_its_checkpoints(project, capsys):
    api = FakeApi()
    args = ["--repo", "me/explorer", "--kind", "space", "--folder", str(project), "--private"]
    assert main(args, api=api) == 0
    (_, repo, kw), (_, up) = api.calls
    assert kw == {"repo_type": "space", "space_sdk": "gradio", "private": True, "exist_ok": True}
    assert up["repo_type"] == "space"
    assert api.sent == ["README.md", "app.py", "checkpoints/points/README.md",
                        "checkpoints/points/config.json", "checkpoints/points/model.safetensors",
                        "diffusion/__init__.py", "diffusion/api.py",
                        "diffusion/sub/extra.py", "docs/screenshot.png", "requirements.txt"]
    out = capsys.readouterr()
    assert out.out.strip() == "https://huggingface.co/spaces/me/explorer" and "warning" not in out.err


def test_dry_run_lists_and_calls_nothing(project, capsys):
    (project / "README.md").write_text("# no front matter\n")
    api = FakeApi()
    args = ["--repo", "me/explorer", "--kind", "space", "--folder", str(project), "--dry-run"]
    assert main(args, api=api) == 0
    out = capsys.readouterr()
    assert api.calls == [] and "app.py" in out.out.splitlines() and "would upload 10 files" in out.err
    assert "warning: README.md has no Space front matter" in out.err


def test_hub_failure_is_one_line_and_exit_1(checkpoint, capsys):
    api = FakeApi(fail=OSError("Invalid user token.\nMore detail"))
    assert main(["--repo", "me/x", "--folder", str(checkpoint)], api=api) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "error: the Hub refused the upload to me/x: Invalid user token."


@pytest.mark.parametrize("args,needle", [
    (["--repo", "nouser"], "error: --repo 'nouser' is not a repo id; allowed: USER/NAME with exactly one"),
    (["--repo", "a/b/c"], "error: --repo 'a/b/c' is not a repo id"),
    (["--repo", "/b"], "error: --repo '/b' is not a repo id"),
    (["--repo", "me/x", "--kind", "dataset"], "argument --kind: invalid choice: 'dataset'"),
    (["--kind", "model"], "the following arguments are required: --repo"),
    (["--repo", "me/x", "--folder", "{tmp}/missing"], "is not a folder; allowed: a checkpoint folder holding "
                                                       "config.json, model.safetensors"),
    (["--repo", "me/x", "--folder", "{tmp}/ck"], "/ck' has no model.safetensors; a checkpoint needs"),
    (["--repo", "me/x", "--kind", "space", "--folder", "{tmp}/ck"], "/ck' has no app.py, requirements.txt; "
                                                                     "a Space needs"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, needle):
    touch(tmp_path / "ck", "config.json")
    api = FakeApi()
    assert main([a.replace("{tmp}", str(tmp_path)) for a in args], api=api) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert api.calls == []
