"""Sleuth as an MCP server: search, browse and read documents from any MCP client.

One server definition, two transports: `sleuth mcp` speaks stdio (desktop clients spawn
it), and the API mounts the same server at `/mcp` (streamable HTTP, behind the API key).
The tools call the library functions the API routes call (`app.search.search`,
`app.documents`, `app.passages`, `app.collections`), so a tool answers exactly as the
matching route does. Errors a caller can cause become tool error results carrying the
API's message; anything else is a bug, logged by the SDK and reported without details.
Writing tools (ingest, delete) exist only when the `mcp_ingest` setting is on.
"""

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.collections import describe_all
from app.deps import check_api_key
from app.documents import get_document, list_documents
from app.errors import Unavailable, code_of, message_of, status_of
from app.passages import document_chunks, get_passage
from app.schemas.collections import CollectionInfo
from app.schemas.documents import DocumentInfo
from app.schemas.passages import MAX_CONTEXT, Passage
from app.schemas.search import MAX_K, Chunk, Hit, Mode, SearchRequest, SearchResponse
from app.search import search as run_search
from app.services import Services
from app.settings import Settings
from ingest.pipeline import Ingestor
from ingest.store import open_collection

NAME = "sleuth"
DEFAULT_COLLECTION = "docs"
DOCUMENT_URI = "sleuth://{collection}/documents/{document_id}"
PATH = "/mcp"

INSTRUCTIONS = """\
Sleuth searches a local library of documents (PDF, Markdown, text, HTML, Word) that the
user has ingested into named collections. Use `search` with a question in plain words to
find the passages that answer it; each hit gives the document's title and source, the PDF
page and the heading path, so cite them. Use `get_passage` on a hit's id to read the text
around it, `list_collections` and `list_documents` to see what is there, and read a
document whole through its resource URI (sleuth://<collection>/documents/<document_id>).
"""

SEARCH_DESCRIPTION = """\
Find the passages of the user's documents that best answer a query.

`mode` says how passages are matched:
- "hybrid" (the default): by meaning (embeddings) and by words (BM25) together, fused.
  Good for almost everything: a question, a description, a name. (When the query has no
  searchable word, or the collection no word index, it is matched by meaning alone.)
- "text": by words only. Use it for exact strings that meaning cannot capture: an error
  code, an identifier, a part or ticket number, a function name, a rare term.
- "vector": by meaning only, for a paraphrase whose words differ from the document's.
Phrase the query in plain words (no AND/OR syntax).

Returns up to `k` passages, best first, each with its text, document id, title, source
path, page (PDF only), heading path, a passage id for `get_passage`, and its score (vector:
cosine similarity; text: BM25; hybrid: the fused score; higher is better) with where each
ranking placed it (`vector_rank`, `text_rank`: 1 is first, null when that ranking did not
find it). Cite the source and page of what you use.

`where` narrows the search to chunks whose metadata match, in a Mongo-like language:
{"file_type": "pdf"}, {"page": {"$gte": 3}}, {"source": {"$in": ["a.pdf", "b.md"]}},
{"$or": [{"file_type": "md"}, {"file_type": "txt"}]}; operators $eq $ne $in $nin $gt $gte
$lt $lte $exists $and $or $not. Fields: source, filename, title, file_type, page,
doc_id, mtime, and any metadata of the user's own. Call `list_collections` first if you
do not know the collection's name."""

CollectionName = Annotated[str, Field(description="Collection to use; see list_collections.")]


class SearchResult(SearchResponse):
    """The search's hits, best first, and the collection searched."""

    collection: str


class DocumentPage(BaseModel):
    """One page of a collection's documents, each with the URI to read it whole."""

    collection: str
    total: int = Field(description="Documents in the collection, whatever the page.")
    documents: list[DocumentInfo]
    uris: list[str] = Field(description="Resource URI of each listed document, in order.")


class CollectionsList(BaseModel):
    collections: list[CollectionInfo]


class IngestResult(BaseModel):
    """What an ingest did, per file."""

    summary: str
    files: list[dict[str, Any]]


@contextmanager
def tool_errors() -> Iterator[None]:
    """Errors a caller can cause (bad filter, unknown collection or id, bad arguments, the
    model still loading) become a ToolError with the message the API gives for them."""
    try:
        yield
    except ValidationError as e:
        raise ToolError(validation_message(e)) from e
    except Exception as e:
        if status_of(e) == 500:
            raise
        raise ToolError(message_of(e)) from e


def validation_message(error: ValidationError) -> str:
    """Pydantic's errors as `field: message` pairs, as the API's 422 body lists them."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in error.errors()
    )


def document_uri(collection: str, document_id: str) -> str:
    return DOCUMENT_URI.format(collection=collection, document_id=document_id)


def citation(chunk: Chunk) -> str:
    """Where a chunk comes from, for people: title, source, page and headings."""
    parts = [chunk.title or chunk.source or chunk.id]
    if chunk.title and chunk.source:
        parts.append(chunk.source)
    if chunk.page is not None:
        parts.append(f"page {chunk.page}")
    if chunk.heading_path:
        parts.append(" > ".join(chunk.heading_path))
    return " | ".join(parts)


def ranking(hit: Hit) -> str:
    """A hit's score and, from a hybrid search, where each ranking placed it."""
    parts = [f"score {hit.score:.3f}"]
    if hit.vector_rank is not None or hit.text_rank is not None:
        parts += [f"vector rank {hit.vector_rank or '-'}", f"text rank {hit.text_rank or '-'}"]
    return ", ".join(parts)


def search_text(result: SearchResult) -> str:
    """The hits as numbered passages with their citations, for a model to read."""
    if not result.hits:
        return f"No passages matched in collection {result.collection!r}."
    blocks = [
        f"[{rank}] {citation(hit)} ({ranking(hit)}, passage id {hit.id})\n"
        f"{(hit.text or '').strip()}"
        for rank, hit in enumerate(result.hits, start=1)
    ]
    return "\n\n".join(blocks)


def passage_text(passage: Passage) -> str:
    """A passage framed by its neighbours, in reading order, each part labelled."""
    chunk = passage.passage
    parts = [f"{citation(chunk)} (passage id {chunk.id})"]
    parts += [f"[before]\n{(c.text or '').strip()}" for c in passage.before]
    parts.append(f"[passage]\n{(chunk.text or '').strip()}")
    parts += [f"[after]\n{(c.text or '').strip()}" for c in passage.after]
    return "\n\n".join(parts)


def document_text(info: DocumentInfo, chunks: list[Chunk]) -> str:
    """A whole document as Markdown: a header of what it is, then its text page by page."""
    lines = [f"# {info.title or info.filename or info.source}", "", f"Source: {info.source}"]
    if info.file_type:
        lines.append(f"Type: {info.file_type}")
    page: int | None = None
    for chunk in chunks:
        if chunk.page is not None and chunk.page != page:
            page = chunk.page
            lines += ["", f"## Page {page}"]
        lines += ["", (chunk.text or "").strip()]
    return "\n".join(lines) + "\n"


def build_server(services: Callable[[], Services], settings: Settings,
                 collection: str = DEFAULT_COLLECTION) -> MCPServer:
    """The Sleuth MCP server over whatever `services()` returns when a call arrives: the
    API's services for `/mcp` (opened in its lifespan), the command's own for stdio.
    `collection` is the tools' default collection."""
    server = MCPServer(NAME, title="Sleuth document search", instructions=INSTRUCTIONS,
                       log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    def collection_of(name: str):
        return services().db.get_collection(name)

    @server.tool(description=SEARCH_DESCRIPTION, annotations=read_only)
    def search(
        query: Annotated[str, Field(description="The question or description to look for.")],
        collection: CollectionName = collection,
        k: Annotated[int, Field(ge=1, le=MAX_K, description="How many passages.")] = 5,
        where: Annotated[dict[str, Any] | None,
                         Field(description="Metadata filter, e.g. {\"page\": {\"$gte\": 3}}.")
                         ] = None,
        mode: Annotated[Mode, Field(description="hybrid (meaning and words), text (exact "
                                    "words: codes, identifiers) or vector (meaning).")
                        ] = "hybrid",
    ) -> Annotated[CallToolResult, SearchResult]:
        with tool_errors():
            request = SearchRequest(query=query, k=k, where=where,
                                    mode=None if mode == "hybrid" else mode)
            target = collection_of(collection)
            found = run_search(target, request, services().model.get)
        result = SearchResult(collection=collection, **dict(found))
        return CallToolResult(content=[TextContent(type="text", text=search_text(result))],
                              structured_content=result.model_dump(mode="json"))

    @server.tool(annotations=read_only)
    def list_collections() -> CollectionsList:
        """List the collections of documents: name, number of documents and chunks, the
        embedding model and the index. Searches name one collection."""
        with tool_errors():
            return CollectionsList(collections=describe_all(services().db))

    @server.tool(name="list_documents", annotations=read_only)
    def list_documents_tool(
        collection: CollectionName = collection,
        limit: Annotated[int, Field(ge=1, le=1000, description="Documents per page.")] = 50,
        offset: Annotated[int, Field(ge=0, description="Documents to skip.")] = 0,
    ) -> DocumentPage:
        """List the documents of a collection (title, source, type, chunks, date), in the
        order they were added, with the resource URI that reads each one whole. Use it to
        see what a collection covers or to find a document's id for a `where` filter
        ({"doc_id": "..."})."""
        with tool_errors():
            documents, total = list_documents(collection_of(collection), limit, offset)
        return DocumentPage(collection=collection, total=total, documents=documents,
                            uris=[document_uri(collection, d.id) for d in documents])

    @server.tool(name="get_passage", annotations=read_only)
    def get_passage_tool(
        passage_id: Annotated[str, Field(description="A passage id from a search hit.")],
        collection: CollectionName = collection,
        context: Annotated[int, Field(ge=0, le=MAX_CONTEXT,
                                      description="Neighbouring chunks on each side.")] = 1,
    ) -> Annotated[CallToolResult, Passage]:
        """Read a passage found by `search` together with the chunks just before and after
        it in the same document, to see its context before quoting or answering."""
        with tool_errors():
            passage = get_passage(collection_of(collection), passage_id, context)
        return CallToolResult(content=[TextContent(type="text", text=passage_text(passage))],
                              structured_content=passage.model_dump(mode="json"))

    @server.resource(DOCUMENT_URI, name="document", mime_type="text/markdown",
                     description="A whole document's text, page by page, with its title "
                                 "and source.")
    def read_document(collection: str, document_id: str) -> str:
        try:
            target = collection_of(collection)
            return document_text(get_document(target, document_id),
                                 document_chunks(target, document_id))
        except Exception as e:
            if status_of(e) == 500:
                raise
            raise ResourceError(message_of(e)) from e

    if settings.mcp_ingest:
        add_write_tools(server, services, collection)
    return server


def add_write_tools(server: MCPServer, services: Callable[[], Services],
                    collection: str) -> None:
    """`ingest` and `delete_document`: only when the `mcp_ingest` setting is on."""
    writes = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)

    @server.tool(annotations=writes)
    def ingest(
        paths: Annotated[list[str], Field(min_length=1, description="Files or folders on the "
                                          "machine Sleuth runs on.")],
        collection: CollectionName = collection,
    ) -> IngestResult:
        """Add files and folders (PDF, Markdown, text, HTML, Word) to a collection, creating
        it if needed: new and changed files are read, chunked and embedded; files removed
        from an ingested folder lose their chunks. Only when the user asks for it."""
        with tool_errors():
            current = services()
            embedder = current.model.get()
            target = open_collection(current.db, collection, embedder)
            with Ingestor(target, embedder, workers=0) as ingestor:
                report = ingestor.ingest(paths)
        files = [{"source": r.path, "status": r.status, "chunks": r.chunks,
                  "reason": r.reason} for r in report.results]
        return IngestResult(summary=report.summary(), files=files)

    @server.tool(annotations=writes)
    def delete_document(
        document_id: Annotated[str, Field(description="A document id from list_documents.")],
        collection: CollectionName = collection,
    ) -> DocumentInfo:
        """Delete a document and all its chunks from a collection. Only when the user asks."""
        with tool_errors():
            target = services().db.get_collection(collection)
            document = get_document(target, document_id)
            target.delete(where={"doc_id": document_id})
        return document


class HttpEndpoint:
    """The ASGI endpoint at /mcp: demands the API key as every /v1 route does, then hands
    the request to the SDK's streamable HTTP app of the current lifespan (each lifespan
    gets a fresh one: the SDK's session manager runs once per instance)."""

    def __init__(self, server: MCPServer, settings: Settings) -> None:
        self.server, self.settings = server, settings
        self.app: ASGIApp | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve MCP sessions for as long as the API's lifespan holds this open."""
        # On a loopback host the SDK also refuses requests whose Host or Origin is not
        # loopback (DNS rebinding).
        self.app = self.server.streamable_http_app(streamable_http_path=PATH,
                                                   host=self.settings.host)
        try:
            async with self.server.session_manager.run():
                yield
        finally:
            self.app = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            check_api_key(self.settings, *_keys(scope))
            if self.app is None:
                raise Unavailable("the MCP endpoint is not running")
        except Exception as e:
            body = {"detail": message_of(e), "code": code_of(e)}
            response = JSONResponse(body, status_of(e), headers=getattr(e, "headers", None))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _keys(scope: Scope) -> tuple[str | None, str | None]:
    """The `X-API-Key` header and the `Authorization: Bearer` credentials of a request."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    return headers.get("x-api-key"), credentials.strip() if scheme.lower() == "bearer" else None


def mount(app: Any, services: Callable[[], Services], settings: Settings
          ) -> Callable[[], AbstractAsyncContextManager[None]]:
    """Serve the MCP server at `/mcp` of a FastAPI app; returns what the app's lifespan must
    hold open while it serves."""
    endpoint = HttpEndpoint(build_server(services, settings), settings)
    app.router.routes.append(Route(PATH, endpoint=endpoint))
    return endpoint.running


def run_stdio(settings: Settings, collection: str = DEFAULT_COLLECTION) -> None:
    """Serve MCP over stdin/stdout until the client closes it; the store is held meanwhile."""
    services = Services.open(settings)
    try:
        build_server(lambda: services, settings, collection).run("stdio")
    finally:
        services.close()
