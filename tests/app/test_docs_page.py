"""/docs and /redoc render in real headless Chromium with every request off this machine
refused: the pages need nothing but the server (no CDN, no fonts, no validator badge)."""

import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi.openapi.docs import get_swagger_ui_html
from playwright.sync_api import Page, Route

from app.main import create_app
from app.settings import Settings
from tests.browser import chromium, requires_chromium
from tests.ui.conftest import free_port

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The API over real HTTP on a free loopback port (an empty store: the pages need none)."""
    port = free_port()
    settings = Settings(data_dir=tmp_path_factory.mktemp("docs") / "data", port=port)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True, name="api")
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def offline_page() -> Iterator[tuple[Page, list[str]]]:
    """A page whose requests to any host but 127.0.0.1 are aborted and listed."""
    refused: list[str] = []

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    with chromium() as browser:
        context = browser.new_context()
        context.route("**/*", only_loopback)
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page, refused


def _operations(page: Page, server: str) -> set[str]:
    spec = page.request.get(f"{server}/openapi.json").json()
    return {f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item}


def test_swagger_ui_lists_every_operation_offline(server, offline_page) -> None:
    page, refused = offline_page
    page.goto(f"{server}/docs")
    page.locator(".swagger-ui .opblock").first.wait_for()
    page.wait_for_load_state("networkidle")
    shown = {
        f"{block.locator('.opblock-summary-method').inner_text().strip()} "
        f"{block.locator('.opblock-summary-path').get_attribute('data-path')}"
        for block in page.locator(".swagger-ui .opblock").all()
    }
    assert shown == _operations(page, server)
    assert "POST /v1/collections/{name}/search" in shown
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Sleuth")
    assert refused == []


def test_redoc_renders_offline(server, offline_page) -> None:
    page, refused = offline_page
    page.goto(f"{server}/redoc")
    page.get_by_role("heading", name="Sleuth retrieval API").wait_for()
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-section-id^='operation/']").count() == len(
        _operations(page, server))
    assert refused == []


def test_the_blocking_catches_a_cdn_page(server, offline_page) -> None:
    """The control: FastAPI's stock page, which loads Swagger UI from a CDN, stays blank
    here and its CDN requests are caught, so an empty `refused` above means something."""
    page, refused = offline_page
    page.route(f"{server}/stock", lambda route: route.fulfill(
        content_type="text/html",
        body=get_swagger_ui_html(openapi_url="/openapi.json", title="stock").body))
    page.goto(f"{server}/stock")
    page.wait_for_load_state("networkidle")
    assert any("cdn.jsdelivr.net" in url for url in refused)
    assert page.locator(".swagger-ui .opblock").count() == 0
