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


def mcp_call(url: str, tool: str, arguments: dict) -> tuple[bool, str]:
    """One MCP tool call over the server's streamable HTTP: (is an error, the reply's text)."""
    import asyncio

    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def go():
        async with streamablehttp_client(url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                r = await session.call_tool(tool, arguments)
                return r.isError, " ".join(getattr(c, "text", "") for c in r.content)
    return asyncio.run(go())


def test_hostile_values_through_the_mcp_tools_are_field_named_refusals(app_url):
    """The tools are the named endpoints, so the same guard answers (not the MCP server's schema
    check, whose refusal names no field and echoes the whole value): the field, the value cut to
    80 characters, what is allowed."""
    from diffusion.app.hostile import BIG, REFUSAL
    base = {"label": "spiral", "guidance": 2, "steps": 5, "sampler": "ddim", "seed": 0, "n": 10, "method": "cfg"}
    cases = [("sample_points", {"seed": 1.5}, "seed"), ("sample_points", {"guidance": "5"}, "guidance"),
             ("sample_points", {"label": BIG}, "label"), ("sample_points", {"seed": BIG}, "seed"),
             ("sample_points", {"n": True}, "n"), ("sample_points", {"steps": None}, "steps"),
             ("sample_digits", {"label": "3", "steps": 100, "n": 256}, "cost"),
             ("compare_guidance", {"world": "points", "label": "spiral", "seed": 0, "guidances": "0, 99"}, "guidance")]
    for tool, change, field in cases:
        args = change if tool == "compare_guidance" else {**base, **change}
        error, text = mcp_call(app_url, tool, args)
        m = REFUSAL.search(text.split("Error: ", 1)[-1])
        assert error and m and m["field"] == field and len(m["value"]) <= 80, (tool, change, text[:300])
