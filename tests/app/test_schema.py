"""schemathesis against the app's own OpenAPI document: no 5xx, responses match the schema.

Each operation gets a bounded number of valid (positive) and invalid (negative) requests,
on one app whose store holds a 'docs' collection so that not every call is a 404. An API
key is configured, so schemathesis also checks that requests without it are refused.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans

from app.main import create_app
from app.settings import Settings
from tests.app.conftest import running

MAX_EXAMPLES = 15
"""Per operation and mode; bounded so the whole module stays around a minute."""

KEY = "schema-test-key"
DOCUMENT = create_app(Settings(data_dir="unused", api_key=KEY)).openapi()
OPERATIONS = [
    pytest.param(method.upper(), path, mode, id=f"{method.upper()} {path} {mode.value}")
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or "parameters" in operation or "requestBody" in operation
]


class KeyAuth:
    """Sends the right key, so schemathesis can then probe with none or a wrong one."""

    def get(self, case, context) -> str:
        return KEY

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "X-API-Key": data}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory, embedder):
    data_dir = tmp_path_factory.mktemp("schema") / "data"
    with running(data_dir) as client:
        client.create_collection("docs")
        client.upsert("docs", ["a", "b"], [[0.1] * 384, [0.2] * 384], [{"text": "a"}, {}])
    settings = Settings(data_dir=data_dir, ingest_workers=0, max_upload_bytes=4096, api_key=KEY)
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers={"X-API-Key": KEY})
    schema.auth()(KeyAuth)
    yield schema
    shutdown_lifespans()


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS)
def test_operation_conforms_to_the_document(api_schema, method, path, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case):
        case.call_and_validate()

    check()
