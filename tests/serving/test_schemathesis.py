"""Issue 19, acceptance c: schemathesis against the served OpenAPI schema on a loopback uvicorn server,
with a bounded number of examples per operation, valid and invalid (positive and negative) data: no
5xx response, every status code documented, every response body valid against its schema.

The model is the shared tiny one (image, audio, text, numbers and a category), so image and audio
cells (paths, data URIs, base64 and upload objects), numbers and text are all generated."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from servingtools import LiveServer  # noqa: E402

pytestmark = pytest.mark.slow  # 3-4 s per operation
MAX_EXAMPLES = 60  # per operation and generation mode
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def live_url(model_dir, table_dir):
    from transmodal.serving.app import create_app
    from transmodal.serving.settings import ServeSettings

    app = create_app(ServeSettings(str(model_dir), allowed_root=str(table_dir), max_wait_ms=1.0))
    with LiveServer(app) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(live_url):
    return schemathesis.openapi.from_url(f"{live_url}/openapi.json")


POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
OPERATIONS = [("/health", "GET", POSITIVE), ("/metadata", "GET", POSITIVE)] + [
    (path, "POST", mode) for path in ("/predict", "/predict_proba") for mode in (POSITIVE, NEGATIVE)]  # GETs take no input


@pytest.mark.parametrize("path,method,mode", OPERATIONS, ids=lambda v: getattr(v, "value", v))
def test_no_server_error_and_no_schema_violation(api_schema, live_url, path, method, mode):
    """Bodies of both media types (JSON and multipart) are generated for the POST operations."""
    operation = api_schema[path][method]
    strategy = operation.as_strategy(generation_mode=mode)
    calls = []

    @given(case=strategy)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case):
        response = case.call_and_validate(base_url=live_url, checks=CHECKS)
        calls.append(response.status_code)
        assert response.status_code < 500

    call()
    assert calls  # examples were generated and sent
    assert requests_get(f"{live_url}/health") == 200  # and the server still serves


def requests_get(url: str) -> int:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status
