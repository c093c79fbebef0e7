"""The MCP server (`launch(mcp_server=True)`): the named sampling and comparison endpoints are its
tools, described by their docstrings (one line per argument, with the allowed values)."""
import json
import urllib.request

from diffusion.inputs import GUIDANCE, STEPS


def test_the_mcp_schema_lists_the_sampling_and_comparison_tools(app_url):
    with urllib.request.urlopen(app_url + "gradio_api/mcp/schema", timeout=60) as r:
        tools = {t["name"]: t for t in json.load(r)}
    assert {"sample_points", "sample_digits", "compare_guidance"} <= set(tools)
    for name in ("sample_points", "sample_digits"):
        props = tools[name]["inputSchema"]["properties"]
        assert list(props)[:7] == ["label", "guidance", "steps", "sampler", "seed", "n", "method"]
        assert GUIDANCE.allowed() in props["guidance"]["description"]
        assert STEPS.allowed() in props["steps"]["description"]
        assert "classifier-free guidance" in tools[name]["description"]
    props = tools["compare_guidance"]["inputSchema"]["properties"]
    assert list(props)[:5] == ["world", "label", "seed", "guidances", "methods"]
    assert "spiral" in props["label"]["description"] and "0..10" in props["guidances"]["description"]
    assert "same initial noise" in tools["compare_guidance"]["description"]
    # the page's own events (streaming, scrubbing, training) are not tools
    assert not any(k.startswith(("generate", "train", "scrub")) for k in tools)
