"""The Space's files: requirements.txt takes PyTorch's CPU-only wheels from their index, local
installs (`make`) leave that line out (only PyPI is reachable here), and the README's front matter
is a valid Space card for the installed Gradio."""
import re
import subprocess
from importlib.metadata import version
from pathlib import Path

import gradio
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def requirement_lines(text: str) -> list[str]:
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_the_space_gets_cpu_torch_and_make_installs_without_that_index():
    space = requirement_lines((ROOT / "requirements.txt").read_text())
    assert CPU_INDEX in space
    local = subprocess.run(["make", "-s", "local-requirements"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout
    assert "index-url" not in local
    assert requirement_lines(local) == [line for line in space if line != CPU_INDEX]
    for line in requirement_lines(local):  # what make installs is what this environment has
        req = Requirement(line)
        assert req.specifier.contains(version(req.name), prereleases=True), line


def test_the_readme_front_matter_is_a_valid_space_card():
    text = (ROOT / "README.md").read_text()
    front = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    card = yaml.safe_load(front.group(1))
    assert card["sdk"] == "gradio" and card["sdk_version"] == gradio.__version__
    assert (ROOT / card["app_file"]).is_file()
    assert len(card["short_description"]) <= 60  # the Hub refuses longer ones (its config reference)
    assert {"title", "emoji", "colorFrom", "colorTo", "license"} <= set(card)
