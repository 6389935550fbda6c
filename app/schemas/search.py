"""Search by text, by vector or both (hybrid), one query or a batch."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.schemas.common import Filter, Request

MAX_K = 1000
MAX_BATCH = 64

Vector = Annotated[
    list[Annotated[float, Field(allow_inf_nan=False)]],
    Field(min_length=1, max_length=8192, description="Query vector of the collection's dim."),
]


class SearchParams(Request):
    """Per-call index knobs; those the collection's index does not use are ignored."""

    ef: int | None = Field(None, ge=1, le=4096, description="HNSW / HNSW-SQ8 beam width.")
    nprobe: int | None = Field(None, ge=1, le=65536, description="IVF-PQ lists to probe.")
    rerank: int | None = Field(
        None, ge=0, le=1000, description="Float32 re-ranking factor (IVF-PQ, HNSW-SQ8, LSH)."
    )
    bits: int | None = Field(
        None, ge=64, le=4096, multiple_of=64, description="LSH code bits used (a prefix)."
    )
    probes: int | None = Field(None, ge=0, le=65536, description="LSH buckets per table.")
    search_k: int | None = Field(
        None, ge=1, le=10_000_000, description="Forest rows read per search."
    )
    trees: int | None = Field(None, ge=1, le=1024, description="Forest trees used.")
    L_search: int | None = Field(None, ge=1, le=4096, description="DiskANN search pool.")
    W: int | None = Field(None, ge=1, le=64, description="DiskANN blocks read per hop.")


Mode = Literal["hybrid", "vector", "text"]


class FusionParams(Request):
    """How a hybrid search fuses its two rankings; omitted knobs take the store's
    defaults (see `vectorstore/API.md`)."""

    method: Literal["rrf", "blend"] | None = Field(
        None, description="rrf: sum of weight / (rrf_k + rank); blend: sum of weight x the "
        "score min-max normalised over each ranking's candidates.")
    vector_weight: float | None = Field(None, ge=0, le=1000)
    text_weight: float | None = Field(None, ge=0, le=1000)
    rrf_k: float | None = Field(None, ge=0, le=10_000)
    depth: int | None = Field(None, ge=1, le=MAX_K, description="Candidates from each ranking.")
    coverage: bool | None = Field(
        None, description="Scale the text weight by the share of the query the best text "
        "match covers, so chance word matches do not outrank meaning.")


class SearchRequest(Request):
    """A `query` (text), a `vector`, or both: a query with the `vector` its caller embedded
    it to (an application with its own embedding model) is searched as a query, with that
    vector standing in for the server's embedding of it.

    `mode`: `hybrid` (a text query's default) embeds the query and fuses the nearest
    chunks with the best BM25 matches of its words; `vector` searches by meaning only;
    `text` by words only (no embedding). A text query in the default mode is searched by
    vector alone when the collection has no text index or the query has no searchable
    word (only stopwords); asked for explicitly, `text` and `hybrid` refuse those (400).
    """

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["query"]}, {"required": ["vector"]}]}
    )

    # Typed without null (a default of None stands for "absent"), so that the schema's
    # anyOf says what the validator below checks.
    query: str = Field(None, min_length=1, max_length=10_000)  # type: ignore[assignment]
    vector: Vector = None  # type: ignore[assignment]
    mode: Mode | None = Field(None, description="Default: hybrid for a query, vector for a "
                              "vector.")
    k: int = Field(10, ge=1, le=MAX_K)
    where: Filter | None = None
    params: SearchParams | None = None
    fusion: FusionParams | None = None

    @model_validator(mode="after")
    def _one_query(self) -> "SearchRequest":
        if self.query is None and self.vector is None:
            raise ValueError("give a 'query', a 'vector' or both")
        if self.query is None and self.mode in ("text", "hybrid"):
            raise ValueError(f"mode {self.mode!r} needs a text 'query'")
        return self


class Chunk(BaseModel):
    """One stored chunk with its provenance; `metadata` holds any other payload field."""

    id: str
    text: str | None
    document_id: str | None
    source: str | None = Field(
        description="Where the chunk's document came from, as users know it: an upload's "
        "original name, or the path under the folder that was ingested."
    )
    path: str | None = Field(
        None, description="The document's absolute path on the server: only when the server "
        "is configured to show it (`expose_paths`)."
    )
    filename: str | None
    title: str | None
    page: int | None
    heading_path: list[str]
    start: int | None = Field(description="Character offset of the chunk in its document.")
    end: int | None
    chunk_index: int | None
    metadata: dict[str, Any]


class Hit(Chunk):
    """A chunk that matched a search, with its score. The vector and text scores and ranks
    say where it stood in each ranking of the search (null: not among its candidates)."""

    score: float = Field(description="vector mode: similarity (cosine, dot: higher is "
                         "better) or L2 distance; text mode: BM25; hybrid: the fused score.")
    vector_score: float | None = None
    vector_rank: int | None = None
    text_score: float | None = None
    text_rank: int | None = None


class SearchResponse(BaseModel):
    hits: list[Hit]
    took_ms: float


class BatchSearchRequest(Request):
    searches: list[SearchRequest] = Field(min_length=1, max_length=MAX_BATCH)


class BatchSearchResponse(BaseModel):
    results: list[SearchResponse]
    took_ms: float
