"""The MCP server through the official SDK's client: a real `sleuth mcp` over stdio and a
real `sleuth serve` at /mcp over streamable HTTP, both on the ingested sample documents."""

import shutil
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from app.client import ApiError, SleuthClient
from app.mcp_server import build_server
from app.services import Services
from app.settings import Settings
from tests.servers import OFFLINE, SLEUTH, ingest_sample_docs, sleuth_serve

pytestmark = pytest.mark.slow

READ_TOOLS = {"search", "list_collections", "list_documents", "get_passage"}

QUESTION = "how long did the last quarterly restore drill of the metadata database take"
"""Answered on page 3 of runbook/backup-and-restore.pdf ("took 2 hours and 10 minutes")."""

IDENTIFIER = "x509"
"""Only in runbook/tls-certificate-rotation.txt (`openssl x509 -noout -enddate`): BM25
finds that chunk first, while MiniLM, by meaning, ranks it outside the top 10."""
IDENTIFIER_SOURCE = "runbook/tls-certificate-rotation.txt"

BAD_SEARCHES = [
    # (arguments, text the error result must hold: the API's message for the same mistake)
    ({"query": "x", "collection": "nope"}, "collection 'nope' not found"),
    ({"query": "x", "where": {"page": {"$foo": 1}}}, "where.page.$foo: unknown operator '$foo'"),
    ({"query": "x", "where": {"page": {"$gte": [3]}}}, "where.page.$gte: expects a number"),
    ({"query": "x", "k": 0}, "Input should be greater than or equal to 1"),
    ({"query": "x", "k": 5000}, "Input should be less than or equal to 1000"),
    ({"query": "x", "k": "many"}, "Input should be a valid integer"),
    ({"query": "x", "where": "page"}, "Input should be a valid dictionary"),
    ({"query": ""}, "query: String should have at least 1 character"),
    ({"k": 3}, "query"),
    ({"query": "x", "mode": "fuzzy"}, "Input should be 'hybrid', 'vector' or 'text'"),
    ({"query": "the of and", "mode": "text"}, "has no searchable terms"),
]


@pytest.fixture(scope="module")
def sample_data(tmp_path_factory) -> Path:
    """A data directory holding sample_docs/ ingested into collection 'docs' (closed)."""
    return ingest_sample_docs(tmp_path_factory.mktemp("mcp") / "data")


def copy_of(data: Path, tmp_path: Path) -> Path:
    """A private copy of the store: each server process holds its own directory's lock."""
    return Path(shutil.copytree(data, tmp_path / "data"))


def text_of(result) -> str:
    return "\n".join(block.text for block in result.content)


async def check_search_finds_the_page(client: Client) -> dict:
    """`search` answers QUESTION with page 3 of backup-and-restore.pdf, structured and as text."""
    result = await client.call_tool("search", {"query": QUESTION, "k": 3})
    assert not result.is_error, text_of(result)
    top = result.structured_content["hits"][0]
    assert top["source"].endswith("runbook/backup-and-restore.pdf")
    assert top["page"] == 3 and top["title"] == "Backup and Restore"
    assert "2 hours and 10" in top["text"] and top["score"] > 0
    assert set(top) >= {"document_id", "heading_path", "chunk_index", "id"}
    assert "[1] Backup and Restore" in text_of(result) and "page 3" in text_of(result)
    return top


async def check_modes_find_an_identifier(client: Client) -> None:
    """Text mode finds an exact identifier that vector mode ranks low; the default (hybrid)
    finds it first and says where each ranking placed each hit."""
    def ids(result) -> list[str]:
        assert not result.is_error, text_of(result)
        return [h["id"] for h in result.structured_content["hits"]]

    text = await client.call_tool("search", {"query": IDENTIFIER, "k": 10, "mode": "text"})
    top = text.structured_content["hits"][0]
    assert top["source"].endswith(IDENTIFIER_SOURCE) and IDENTIFIER in top["text"]
    by_meaning = await client.call_tool("search", {"query": IDENTIFIER, "k": 10,
                                                   "mode": "vector"})
    assert top["id"] not in ids(by_meaning)
    hybrid = await client.call_tool("search", {"query": IDENTIFIER, "k": 10})
    assert ids(hybrid)[0] == top["id"]
    first = hybrid.structured_content["hits"][0]
    assert first["text_rank"] == 1 and first["text_score"] > 0
    assert first["vector_rank"] is None or first["vector_rank"] > 10
    assert any(h["vector_rank"] == 1 for h in hybrid.structured_content["hits"])
    assert "text rank 1" in text_of(hybrid).split("[2]")[0]


async def check_bad_searches(client: Client) -> list[str]:
    """Every bad call is an error result with the expected message; the server lives on."""
    messages = []
    for arguments, expected in BAD_SEARCHES:
        result = await client.call_tool("search", arguments)
        assert result.is_error, (arguments, text_of(result))
        assert expected in text_of(result), (arguments, text_of(result))
        messages.append(text_of(result))
    missing = await client.call_tool("get_passage", {"passage_id": "no-such-id"})
    assert missing.is_error
    assert "passage 'no-such-id' not found in collection 'docs'" in text_of(missing)
    assert not (await client.call_tool("list_collections", {})).is_error
    return messages


async def test_stdio_server_lists_tools_searches_reads_and_reports_errors(sample_data, tmp_path):
    params = StdioServerParameters(
        command=SLEUTH, args=["mcp", "--data", str(copy_of(sample_data, tmp_path))], env=OFFLINE
    )
    async with Client(params, read_timeout_seconds=180) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == READ_TOOLS  # no write tools unless enabled
        assert "page" in tools["search"].description and tools["search"].output_schema
        assert tools["search"].input_schema["properties"]["k"]["maximum"] == 1000
        assert tools["search"].input_schema["properties"]["mode"]["enum"] == \
            ["hybrid", "vector", "text"]

        top = await check_search_finds_the_page(client)
        await check_modes_find_an_identifier(client)

        passage = await client.call_tool("get_passage", {"passage_id": top["id"], "context": 1})
        assert not passage.is_error, text_of(passage)
        around = passage.structured_content
        assert around["passage"]["id"] == top["id"]
        neighbours = [*around["before"], *around["after"]]
        assert neighbours and all(c["document_id"] == top["document_id"] for c in neighbours)
        assert {c["chunk_index"] for c in neighbours} <= {top["chunk_index"] - 1,
                                                          top["chunk_index"] + 1}
        assert "[passage]" in text_of(passage)

        listed = (await client.call_tool("list_documents", {"limit": 100})).structured_content
        assert listed["total"] == 30 and len(listed["uris"]) == 30
        uri = next(u for d, u in zip(listed["documents"], listed["uris"], strict=True)
                   if d["id"] == top["document_id"])
        document = (await client.read_resource(uri)).contents[0].text
        assert document.startswith("# Backup and Restore") and "## Page 3" in document
        assert "2 hours and 10" in document.split("## Page 3")[1]
        with pytest.raises(MCPError, match="document 'nope' not found in collection 'docs'"):
            await client.read_resource("sleuth://docs/documents/nope")

        await check_bad_searches(client)
        assert not (await client.call_tool("search", {"query": QUESTION})).is_error


def mcp_over_http(url: str, key: str | None) -> Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=180))
    return Client(streamable_http_client(f"{url}/mcp", http_client=http))


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "test", "version": "0"}}}


async def test_http_mcp_is_behind_the_api_key_and_answers_as_the_api(sample_data, tmp_path):
    key = "mcp-test-key"
    with sleuth_serve(copy_of(sample_data, tmp_path), SLEUTH_API_KEY=key) as url:
        accept = {"Accept": "application/json, text/event-stream"}
        without = httpx.post(f"{url}/mcp", json=INITIALIZE, headers=accept)
        assert without.status_code == 401
        assert without.json() == {"detail": "API key required: send 'Authorization: Bearer "
                                            "<key>' or 'X-API-Key'", "code": "unauthorized"}
        wrong = httpx.post(f"{url}/mcp", json=INITIALIZE, headers={**accept, "X-API-Key": "no"})
        assert wrong.status_code == 403 and wrong.json()["code"] == "forbidden"
        with pytest.raises(Exception):  # noqa: B017 - the SDK's error type for a refused POST
            async with mcp_over_http(url, "not-the-key") as client:
                await client.list_tools()

        async with mcp_over_http(url, key) as client:
            assert {t.name for t in (await client.list_tools()).tools} == READ_TOOLS
            top = await check_search_finds_the_page(client)
            await check_modes_find_an_identifier(client)
            messages = await check_bad_searches(client)
            result = await client.call_tool("search", {"query": QUESTION, "k": 5})
            text = await client.call_tool("search", {"query": IDENTIFIER, "k": 5,
                                                     "mode": "text"})

        with SleuthClient(url, api_key=key) as api:
            rest = api.search("docs", QUESTION, k=5)
            assert [h.id for h in rest.hits] == [h["id"] for h in result.structured_content["hits"]]
            assert rest.hits[0].id == top["id"]
            assert [h.model_dump(mode="json") for h in rest.hits] == \
                result.structured_content["hits"]  # every field, ranks included
            rest_text = api.search("docs", IDENTIFIER, k=5, mode="text")
            assert [h.id for h in rest_text.hits] == \
                [h["id"] for h in text.structured_content["hits"]]
            for (arguments, _), message in zip(BAD_SEARCHES[:3], messages[:3], strict=True):
                with pytest.raises(ApiError) as refused:
                    api.search(arguments.get("collection", "docs"), arguments["query"],
                               where=arguments.get("where"))
                assert message.endswith(refused.value.detail)


async def test_write_tools_exist_only_when_enabled(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "owls.md").write_text("# Owls\n\nOwls hunt at night and see well in the dark.\n")
    settings = Settings(data_dir=tmp_path / "data", ingest_workers=0, mcp_ingest=True)
    services = Services.open(settings)
    try:
        plain = settings.model_copy(update={"mcp_ingest": False})
        read_only = build_server(lambda: services, plain)
        assert {t.name for t in await read_only.list_tools()} == READ_TOOLS
        async with Client(build_server(lambda: services, settings, "notes")) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == READ_TOOLS | {"ingest", "delete_document"}
            ingested = await client.call_tool("ingest", {"paths": [str(folder)]})
            assert not ingested.is_error, text_of(ingested)
            assert ingested.structured_content["files"][0]["status"] == "added"
            hit = (await client.call_tool("search", {"query": "which bird hunts at night?"})
                   ).structured_content["hits"][0]
            assert hit["heading_path"] == ["Owls"]
            deleted = await client.call_tool("delete_document",
                                             {"document_id": hit["document_id"]})
            assert not deleted.is_error, text_of(deleted)
            after = await client.call_tool("search", {"query": "which bird hunts at night?"})
            assert after.structured_content["hits"] == []
            again = await client.call_tool("delete_document", {"document_id": hit["document_id"]})
            assert again.is_error and "not found in collection 'notes'" in text_of(again)
    finally:
        services.close()
