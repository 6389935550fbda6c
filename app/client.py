"""A small typed client for the Sleuth API, on httpx; the UI and the tests use it.

    with SleuthClient("http://127.0.0.1:8000", api_key="...") as sleuth:
        sleuth.create_collection("docs")
        job = sleuth.wait_for_job(sleuth.upload("docs", ["report.pdf"]).id)
        for hit in sleuth.search("docs", query="what changed in 2023?", k=5).hits:
            print(hit.score, hit.filename, hit.page, hit.text)

Every non-2xx answer raises `ApiError` carrying the status, the message and the code.
"""

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import httpx
from pydantic import BaseModel

from app.schemas.collections import CollectionInfo, CollectionList
from app.schemas.documents import DocumentInfo, DocumentList, JobInfo, JobList, UploadLimits
from app.schemas.health import Health
from app.schemas.pages import PageHighlight
from app.schemas.passages import Passage
from app.schemas.records import Deleted, RecordList, RecordOut, Upserted
from app.schemas.search import BatchSearchResponse, SearchResponse
from app.schemas.similarity import SimilarityResponse

Model = TypeVar("Model", bound=BaseModel)
FileArg = str | Path | tuple[str, bytes | BinaryIO]
"""A path to send, or (file name, content)."""


class ApiError(Exception):
    """A non-2xx answer: HTTP `status`, the server's `detail` and `code`."""

    def __init__(self, status: int, detail: Any, code: str | None = None,
                 body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail, self.code = status, detail, code
        self.body = body or {}
        """The whole JSON body: an upload refusal lists its `files` with reasons."""


def _query(query: str | None, vector: Sequence[float] | None, k: int, where: dict | None,
           params: dict | None, mode: str | None, fusion: dict | None) -> dict[str, Any]:
    body: dict[str, Any] = {"k": k}
    if vector is not None:
        body["vector"] = [float(x) for x in vector]
    optional = {"query": query, "where": where, "params": params, "mode": mode,
                "fusion": fusion}
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


class SleuthClient:
    """One HTTP connection pool to a Sleuth server; close it, or use it as a context.

    `http` replaces the pool with a ready client (a FastAPI `TestClient` in tests).
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000", api_key: str | None = None,
                 timeout: float = 60.0, http: httpx.Client | None = None) -> None:
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        if api_key:
            self._http.headers["Authorization"] = f"Bearer {api_key}"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "SleuthClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, url, **kwargs)
        if response.is_success:
            return response
        try:
            body = response.json()
        except ValueError:
            raise ApiError(response.status_code, response.text) from None
        if not isinstance(body, dict):
            raise ApiError(response.status_code, body)
        raise ApiError(response.status_code, body.get("detail", body), body.get("code"), body)

    def _get(self, model: type[Model], method: str, url: str, **kwargs: Any) -> Model:
        return model.model_validate(self._call(method, url, **kwargs).json())

    # ---- service ----------------------------------------------------------------

    def health(self) -> Health:
        """Liveness and readiness; a server still starting answers too (status 'starting')."""
        response = self._http.get("/health")
        if response.status_code not in (200, 503):
            raise ApiError(response.status_code, response.text)
        return Health.model_validate(response.json())

    def wait_until_ready(self, timeout: float = 60.0, interval: float = 0.2) -> Health:
        """Poll /health until ready, for at most `timeout` seconds (TimeoutError after)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                health = self.health()
                if health.serving:
                    return health
            except httpx.TransportError:
                health = None
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not ready after {timeout:.0f}s: {health}")
            time.sleep(interval)

    def metrics(self) -> str:
        """The Prometheus metrics text."""
        return self._call("GET", "/metrics").text

    # ---- collections ------------------------------------------------------------

    def create_collection(self, name: str, *, metric: str = "cosine",
                          index: str | dict[str, Any] = "hnsw",
                          dimension: int | None = None,
                          text: bool | dict[str, Any] = True) -> CollectionInfo:
        """Create a collection; without `dimension`, it is the server model's. `text`:
        its text index (True: the defaults, False: none, or an object of its keys)."""
        body = {"name": name, "metric": metric, "index": index, "dimension": dimension,
                "text": text}
        return self._get(CollectionInfo, "POST", "/v1/collections", json=body)

    def list_collections(self) -> list[CollectionInfo]:
        return self._get(CollectionList, "GET", "/v1/collections").collections

    def get_collection(self, name: str) -> CollectionInfo:
        return self._get(CollectionInfo, "GET", f"/v1/collections/{name}")

    def delete_collection(self, name: str) -> None:
        self._call("DELETE", f"/v1/collections/{name}")

    # ---- documents --------------------------------------------------------------

    def upload(self, collection: str, files: Sequence[FileArg]) -> JobInfo:
        """Send files for ingest; returns the queued job (see `wait_for_job`)."""
        opened: list[BinaryIO] = []
        parts = []
        try:
            for item in files:
                if isinstance(item, tuple):
                    parts.append(("files", item))
                else:
                    handle = open(item, "rb")  # noqa: SIM115 - closed below, after the send
                    opened.append(handle)
                    parts.append(("files", (Path(item).name, handle)))
            return self._get(JobInfo, "POST", f"/v1/collections/{collection}/documents",
                             files=parts)
        finally:
            for handle in opened:
                handle.close()

    def job(self, job_id: str) -> JobInfo:
        return self._get(JobInfo, "GET", f"/v1/jobs/{job_id}")

    def jobs(self, collection: str | None = None, limit: int = 100) -> list[JobInfo]:
        """Recent upload jobs, most recent first."""
        params = {"limit": limit, **({"collection": collection} if collection else {})}
        return self._get(JobList, "GET", "/v1/jobs", params=params).jobs

    def cancel_job(self, job_id: str) -> JobInfo:
        """Cancel a job: its queued files fail at once, its running one within a second."""
        return self._get(JobInfo, "DELETE", f"/v1/jobs/{job_id}")

    def limits(self) -> UploadLimits:
        """The server's upload and extraction limits."""
        return self._get(UploadLimits, "GET", "/v1/limits")

    def wait_for_job(self, job_id: str, timeout: float = 300.0,
                     interval: float = 0.2) -> JobInfo:
        """Poll a job until every file is done or failed (TimeoutError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while (job := self.job(job_id)).status in ("queued", "running"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout:.0f}s")
            time.sleep(interval)
        return job

    def list_documents(self, collection: str, limit: int = 100,
                       offset: int = 0) -> DocumentList:
        return self._get(DocumentList, "GET", f"/v1/collections/{collection}/documents",
                         params={"limit": limit, "offset": offset})

    def get_document(self, collection: str, document_id: str) -> DocumentInfo:
        return self._get(DocumentInfo, "GET",
                         f"/v1/collections/{collection}/documents/{document_id}")

    def delete_document(self, collection: str, document_id: str) -> None:
        self._call("DELETE", f"/v1/collections/{collection}/documents/{document_id}")

    def document_file(self, collection: str, document_id: str) -> bytes:
        """The file an uploaded document came from."""
        return self._call(
            "GET", f"/v1/collections/{collection}/documents/{document_id}/file"
        ).content

    def page_image(self, collection: str, document_id: str, page: int,
                   width: int = 1000) -> bytes:
        """Page `page` (1-based) of an uploaded PDF as a PNG `width` pixels wide."""
        return self._call(
            "GET", f"/v1/collections/{collection}/documents/{document_id}/pages/{page}",
            params={"width": width},
        ).content

    def page_highlight(self, collection: str, document_id: str, page: int,
                       passage_id: str) -> PageHighlight:
        """Where a passage's lines are on a page of its uploaded PDF."""
        return self._get(
            PageHighlight, "GET",
            f"/v1/collections/{collection}/documents/{document_id}/pages/{page}/highlight",
            params={"passage": passage_id},
        )

    # ---- search -----------------------------------------------------------------

    def search(self, collection: str, query: str | None = None, *,
               vector: Sequence[float] | None = None, k: int = 10,
               where: dict | None = None, params: dict | None = None,
               mode: str | None = None, fusion: dict | None = None) -> SearchResponse:
        """Search by text `query` or by `vector` (exactly one). `mode`: "hybrid" (a
        query's default), "vector" or "text"; `fusion`: hybrid knobs (method, weights,
        rrf_k, depth)."""
        body = _query(query, vector, k, where, params, mode, fusion)
        return self._get(SearchResponse, "POST", f"/v1/collections/{collection}/search",
                         json=body)

    def search_batch(self, collection: str, searches: Sequence[dict[str, Any]]
                     ) -> BatchSearchResponse:
        """Several searches, each a dict of `search`'s keyword arguments (query, vector...)."""
        body = {"searches": [_query(s.get("query"), s.get("vector"), s.get("k", 10),
                                    s.get("where"), s.get("params"), s.get("mode"),
                                    s.get("fusion")) for s in searches]}
        return self._get(BatchSearchResponse, "POST",
                         f"/v1/collections/{collection}/search/batch", json=body)

    def get_passage(self, collection: str, passage_id: str, context: int = 1) -> Passage:
        """A chunk by id (a hit's `id`) with `context` chunks of its document on each side."""
        return self._get(Passage, "GET", f"/v1/collections/{collection}/passages/{passage_id}",
                         params={"context": context})

    def similarity(self, query: str, texts: Sequence[str]) -> SimilarityResponse:
        """How close in meaning each of `texts` is to `query` (cosine, in `texts` order),
        by the server's embedding model."""
        return self._get(SimilarityResponse, "POST", "/v1/similarity",
                         json={"query": query, "texts": list(texts)})

    # ---- records ----------------------------------------------------------------

    def get_records(self, collection: str, ids: Sequence[str] | None = None, *,
                    where: dict | None = None, limit: int = 100, offset: int = 0,
                    include_vectors: bool = False) -> list[RecordOut]:
        """Records by id, in the order asked (unknown ids left out), or a page of those
        matching `where`, in insertion order."""
        body: dict[str, Any] = {"include_vectors": include_vectors}
        if ids is not None:
            body["ids"] = list(ids)
        if where is not None:
            body.update(where=where, limit=limit, offset=offset)
        return self._get(RecordList, "POST", f"/v1/collections/{collection}/records/get",
                         json=body).records

    def upsert(self, collection: str, ids: Sequence[str], vectors: Any,
               payloads: Sequence[dict] | None = None) -> int:
        """Insert or replace raw records; `vectors` is any (n, dim) array-like."""
        payloads = payloads if payloads is not None else [{}] * len(ids)
        records = [{"id": i, "vector": [float(x) for x in v], "payload": p}
                   for i, v, p in zip(ids, vectors, payloads, strict=True)]
        return self._get(Upserted, "POST", f"/v1/collections/{collection}/records",
                         json={"records": records}).upserted

    def delete_records(self, collection: str, ids: Sequence[str] | None = None,
                       where: dict | None = None) -> int:
        """Delete raw records by id or by filter; returns how many went."""
        body = {"ids": list(ids)} if ids is not None else {"where": where}
        return self._get(Deleted, "POST", f"/v1/collections/{collection}/records/delete",
                         json=body).deleted
