"""A Python client generated from the served OpenAPI document (openapi-python-client) reads
naturally and works: functions named after the operation ids, typed models for what the API
answers, a typed error body."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import WELCOME

pytestmark = pytest.mark.e2e
PACKAGE = "mailroom_generated_client"


@pytest.fixture(scope="module")
def client_package(local_stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Generate the client into a fresh folder and import it."""
    folder = tmp_path_factory.mktemp("client")
    with urllib.request.urlopen(f"{local_stack['api_url']}/v1/openapi.json") as response:
        (folder / "openapi.json").write_bytes(response.read())
    (folder / "config.json").write_text(json.dumps({"post_hooks": []}))  # no formatter run
    subprocess.run(
        [str(Path(sys.executable).with_name("openapi-python-client")), "generate",
         "--path", "openapi.json", "--config", "config.json", "--meta", "none",
         "--output-path", PACKAGE],
        cwd=folder, check=True, capture_output=True, text=True, timeout=120,
    )
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))


@pytest.fixture
def client(client_package: Any, local_stack: dict[str, Any]) -> Any:
    return client_package.AuthenticatedClient(
        base_url=local_stack["api_url"], token=local_stack["api_key"], prefix="",
        auth_header_name="x-api-key")


def module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_a_generated_client_sends_and_reads_back_with_typed_fields(client) -> None:
    send_email, get_email = module("api.emails.send_email"), module("api.emails.get_email")
    models = module("models")
    body = models.EmailRequest(to="success+client@simulator.amazonses.com", template="welcome",
                               data=models.EmailRequestData.from_dict(WELCOME))

    accepted = send_email.sync(client=client, body=body, idempotency_key="client-test-1")

    assert isinstance(accepted, models.Accepted)
    message = get_email.sync(message_id=accepted.id, client=client)
    assert isinstance(message, models.EmailView)
    assert message.to == "success+client@simulator.amazonses.com"
    assert isinstance(message.status, models.Status)
    assert message.events[0].type_ == "queued"
    assert message.created_at.tzinfo is not None  # a datetime, not a string


def test_a_generated_client_reads_a_typed_error_body(client) -> None:
    send_email = module("api.emails.send_email")
    models = module("models")
    body = models.EmailRequest(to="ada@example.com", template="newsletter",
                               data=models.EmailRequestData.from_dict({}))

    response = send_email.sync_detailed(client=client, body=body)

    assert response.status_code == 422
    assert isinstance(response.parsed, models.ErrorBody)
    assert response.parsed.error.code == "unknown_template"
    assert "newsletter" in response.parsed.error.message
