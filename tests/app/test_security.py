"""API key, upload file names, CORS."""

import hmac
import re

import pytest
from fastapi.routing import iter_route_contexts

from app.uploads import clean_filename

KEY = "s3cret-key"


@pytest.fixture
def locked(make_client):
    """An app with an API key, and a client holding it."""
    return make_client(api_key=KEY)


def _requests(app) -> list[tuple[str, str]]:
    """(method, path) for every route and method the app serves, path parameters filled."""
    sent = []
    for route in iter_route_contexts(app.routes):  # included routers resolved, as OpenAPI does
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        methods = getattr(route, "methods", None) or {"GET"}  # a mount: its root
        sent += [(method, path) for method in sorted(methods - {"HEAD"})]
    return sent


def test_every_route_but_health_needs_the_key(locked):
    http = locked._http
    del http.headers["Authorization"]
    requests = _requests(http.app)
    assert {("GET", "/docs"), ("GET", "/redoc"), ("GET", "/openapi.json"),
            ("GET", "/metrics"), ("POST", "/v1/collections")} <= set(requests)
    for method, path in requests:
        response = http.request(method, path)
        if path == "/health":
            assert response.status_code == 200
            continue
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["code"] == "unauthorized"


def test_documentation_opens_with_the_key_or_when_none_is_set(locked, client):
    for http in (locked._http, client._http):
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/assets/swagger-ui-bundle.js"):
            assert http.get(path).status_code == 200, path
        assert http.get("/docs/assets/..%2Fcore.py").status_code == 404
    html = client._http.get("/docs").text + client._http.get("/redoc").text
    assert "/docs/assets/swagger-ui-bundle.js" in html and "/docs/assets/redoc" in html
    assert "http" not in html.replace("http-equiv", "")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": f"Bearer {KEY}"}, 200),
        ({"X-API-Key": KEY}, 200),
        ({"Authorization": "Bearer wrong"}, 403),
        ({"X-API-Key": KEY[:-1]}, 403),
        ({"X-API-Key": KEY, "Authorization": "Bearer wrong"}, 403),
        ({"Authorization": f"Basic {KEY}"}, 401),
        ({"X-API-Key": ""}, 401),
    ],
)
def test_key_headers(locked, headers, status):
    http = locked._http
    del http.headers["Authorization"]
    assert http.get("/v1/collections", headers=headers).status_code == status


def test_key_is_compared_in_constant_time(locked, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    locked.list_collections()
    assert calls == [(KEY.encode(), KEY.encode())]


def test_openapi_declares_the_key_only_when_configured(locked, client):
    with_key = locked._http.get("/openapi.json").json()
    assert set(with_key["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    without = client._http.get("/openapi.json").json()
    assert "securitySchemes" not in without.get("components", {})


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
        ("/abs/path/notes.md", "notes.md"),
        (".hidden.md", "hidden.md"),
        ("a" * 300 + ".txt", "a" * 196 + ".txt"),
    ],
)
def test_upload_names_never_become_paths(client, tmp_path, sent, kept):
    client.create_collection("docs")
    job = client.wait_for_job(client.upload("docs", [(sent, b"some words to index")]).id)
    assert (job.files[0].filename, job.files[0].status) == (kept, "done")
    stored = [p for p in tmp_path.rglob("*") if p.is_file() and "collections" not in p.parts]
    stored = [p for p in stored if p.name != "LOCK" and not p.name.startswith("jobs.sqlite3")]
    assert len(stored) == 1
    assert stored[0].parent == tmp_path / "data" / "uploads" / "docs"
    assert len(stored[0].stem) == 32 and kept not in stored[0].name
    document = client.get_document("docs", job.files[0].document_id)
    assert (document.filename, document.source, document.path) == (kept, kept, None)


def test_control_characters_are_dropped_from_raw_multipart_names(client):
    client.create_collection("docs")
    body = (
        b'--B\r\nContent-Disposition: form-data; name="files"; '
        b'filename="ok\x01na\x7fme.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nwords to index\r\n--B--\r\n"
    )
    response = client._http.post(
        "/v1/collections/docs/documents", content=body,
        headers={"content-type": "multipart/form-data; boundary=B"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["files"][0]["filename"] == "okname.txt"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("a\x00b\u202e.md", "ab.md"), ("..", "upload"), ("", "upload"), ("x/", "upload")],
)
def test_clean_filename(sent, kept):
    assert clean_filename(sent) == kept


def test_cors_is_off_unless_configured(client, make_client):
    preflight = {"Origin": "http://ui.example", "Access-Control-Request-Method": "POST"}
    off = client._http.options("/v1/collections", headers=preflight)
    assert "access-control-allow-origin" not in off.headers
    on = make_client(cors_origins=["http://ui.example"])._http
    allowed = on.options("/v1/collections", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "http://ui.example"
    other = on.options("/v1/collections", headers={**preflight, "Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
