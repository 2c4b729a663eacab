"""The OpenAPI document is the contract (issue 9 item 6, issue 15 finding 4): it is current (the committed
copy equals what functions/platform/openapi.py builds), it describes every route the topology declares,
and it states the rules the handlers' pydantic models enforce. Whether the server answers what it says is
checked against the running API by `make fuzz` (schemathesis's status, schema and content-type checks)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.auth import passwords
from functions.auth.apikeys import KEY_SCOPES
from functions.shared.contract import OPTIONAL, PROTECTED
from functions.videos.models import MAX_TAG_LENGTH, MAX_TAGS
from functions.videos.uploads import VIDEO_TYPES
from infra import openapi
from infra.model import Auth
from infra.topology import TOPOLOGY

ERROR = {"$ref": "#/components/schemas/ErrorBody"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(openapi.generate())


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def schema_of(response: dict[str, Any]) -> Any:
    return response.get("content", {}).get("application/json", {}).get("schema")


def test_the_committed_document_is_current() -> None:
    """docs/openapi.json is what the handlers generate: `make openapi` rewrites it."""
    assert openapi.COMMITTED.read_text(encoding="utf-8") == openapi.generate(), "run `make openapi`"


def test_every_documented_route_is_declared_with_its_security(document: dict[str, Any]) -> None:
    documented = operations(document)
    declared = {(r.method, r.path): r for r in TOPOLOGY.api.routes if "/docs" not in r.path}
    declared.pop(("GET", "/api/v1/openapi.json"))  # the document does not list itself
    assert set(documented) == set(declared)
    for key, route in declared.items():
        operation = documented[key]
        if route.auth is not Auth.PUBLIC:
            assert operation.get("security") == (PROTECTED if route.auth is Auth.PROTECTED else OPTIONAL), key
            assert schema_of(operation["responses"]["401"]) == ERROR, key
            assert schema_of(operation["responses"]["403"]) == ERROR, key
        else:
            assert "security" not in operation, key
            assert "401" not in operation["responses"] or key[1].startswith("/api/v1/auth/"), key
    assert set(document["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyAuth"}


def test_every_response_has_its_model_and_every_error_the_error_shape(document: dict[str, Any]) -> None:
    for key, operation in operations(document).items():
        responses = operation["responses"]
        successes = {code: r for code, r in responses.items() if code.startswith("2")}
        assert successes, key
        for code, response in successes.items():
            if code == "204":
                assert response["content"] == {}, key  # no body, as the handler answers
            else:
                assert schema_of(response)["$ref"].startswith("#/components/schemas/"), (key, code)
        errors = {code: r for code, r in responses.items() if code[0] in "45"}
        for status in ("422", "429", "500", "503"):
            assert status in errors, (key, status)
        for code, response in errors.items():
            if key == ("GET", "/api/v1/health") and code == "503":
                continue  # the health report itself, naming the failing check (for monitors)
            assert schema_of(response) == ERROR, (key, code)
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= set(errors), key
        if "{" in key[1]:
            assert "404" in errors, key
    text = json.dumps(document)
    assert "HTTPValidationError" not in text
    assert '"schema": {"type": "string"}' not in text


def test_204s_are_documented_as_204(document: dict[str, Any]) -> None:
    ops = operations(document)
    for key in (("POST", "/api/v1/auth/logout"), ("DELETE", "/api/v1/auth/api-keys/{key_id}")):
        assert "204" in ops[key]["responses"], key
        assert "200" not in ops[key]["responses"], key


def test_delete_documents_202_and_its_repeat(document: dict[str, Any]) -> None:
    delete = operations(document)[("DELETE", "/api/v1/videos/{video_id}")]
    assert schema_of(delete["responses"]["202"]) == {"$ref": "#/components/schemas/VideoEnvelope"}
    assert "repeat" in delete["responses"]["202"]["description"]
    assert "200" not in delete["responses"]


def test_the_rules_the_server_enforces_are_in_the_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    scopes = schemas["ApiKeyRequest"]["properties"]["scopes"]
    assert scopes["minItems"] == 1
    assert set(scopes["items"]["enum"]) == KEY_SCOPES
    password = schemas["RegisterRequest"]["properties"]["password"]
    assert password["minLength"] == passwords.MIN_LENGTH
    assert password["maxLength"] == passwords.MAX_LENGTH
    assert set(schemas["UploadRequest"]["properties"]["content_type"]["enum"]) == VIDEO_TYPES
    for model in ("CreateVideoRequest", "UpdateVideoRequest"):
        tags = schemas[model]["properties"]["tags"]
        tags = next((t for t in tags.get("anyOf", [tags]) if t.get("type") == "array"), tags)
        assert tags["maxItems"] == MAX_TAGS, model
        assert tags["items"]["maxLength"] == MAX_TAG_LENGTH, model


def test_a_created_video_links_to_the_operations_on_it(document: dict[str, Any]) -> None:
    """schemathesis's stateful phase follows these links (create -> get/patch/delete/upload/playback)."""
    ids = {op["operationId"] for op in operations(document).values()}
    links = operations(document)[("POST", "/api/v1/videos")]["responses"]["201"]["links"]
    assert {"getVideo", "updateVideo", "deleteVideo", "getUploadProgress", "getPlayback"} <= set(links)
    for link in links.values():
        assert link["operationId"] in ids
        assert link["parameters"] == {"video_id": "$response.body#/video/id"}


def test_examples_are_given(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["CreateVideoRequest"]["properties"]["title"]["examples"]
    assert schemas["ApiKeyRequest"]["properties"]["scopes"]["examples"]
    assert schemas["RegisterRequest"]["properties"]["email"]["examples"]
