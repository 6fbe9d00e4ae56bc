"""MCP tool results as text: every kind of content block, and structured content."""

from __future__ import annotations

import base64

from mcp import types

from ponder.tools.mcp import result_text

PNG = base64.b64encode(b"\x89PNG" + bytes(96)).decode()


def test_text_blocks_are_joined() -> None:
    result = types.CallToolResult(
        content=[types.TextContent(type="text", text="one"), types.TextContent(type="text", text="two")]
    )
    assert result_text(result) == "one\ntwo"


def test_images_audio_and_binary_resources_are_described_not_dropped() -> None:
    result = types.CallToolResult(
        content=[
            types.ImageContent(type="image", data=PNG, mime_type="image/png"),
            types.AudioContent(type="audio", data="not base64!", mime_type="audio/wav"),
            types.EmbeddedResource(
                type="resource",
                resource=types.BlobResourceContents(
                    uri="file:///a.bin", mime_type="application/zip", blob=PNG
                ),
            ),
        ]
    )
    lines = result_text(result).splitlines()
    assert lines[0] == "[image content: image/png, 100 bytes, not shown]"
    assert lines[1] == "[audio content: audio/wav, 11 characters of data, not shown]"
    assert lines[2] == "[resource <file:///a.bin>, application/zip: binary, 100 bytes, not shown]"


def test_text_resources_are_quoted_and_links_described() -> None:
    result = types.CallToolResult(
        content=[
            types.EmbeddedResource(
                type="resource",
                resource=types.TextResourceContents(
                    uri="file:///n.txt", mime_type="text/plain", text="hello"
                ),
            ),
            types.ResourceLink(
                type="resource_link", name="Report", uri="https://x.test/r", description="the report"
            ),
        ]
    )
    assert result_text(result).splitlines() == [
        "[resource <file:///n.txt>, text/plain]",
        "hello",
        "[resource link: Report <https://x.test/r> - the report]",
    ]


def test_structured_content_is_added_as_json_unless_a_text_block_carries_it() -> None:
    alone = types.CallToolResult(content=[], structured_content={"temperature": 21, "sky": "clear"})
    assert result_text(alone) == '{"temperature": 21, "sky": "clear"}'

    both = types.CallToolResult(
        content=[types.TextContent(type="text", text='{"sky":"clear","temperature":21}')],
        structured_content={"temperature": 21, "sky": "clear"},
    )
    assert result_text(both) == '{"sky":"clear","temperature":21}'

    wrapped = types.CallToolResult(
        content=[types.TextContent(type="text", text="42")], structured_content={"result": 42}
    )
    assert result_text(wrapped) == "42"

    different = types.CallToolResult(
        content=[types.TextContent(type="text", text="It is sunny.")], structured_content={"sky": "clear"}
    )
    assert result_text(different) == 'It is sunny.\n{"sky": "clear"}'


def test_an_empty_result_says_so() -> None:
    assert result_text(types.CallToolResult(content=[])) == "(the tool returned no content)"
