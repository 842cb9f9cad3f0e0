"""The OpenAPI document: the request schemas of all five types with their examples, the API key
scheme, the error shape; and schemathesis, generating requests from it against the running
server, finds no 5xx."""
from __future__ import annotations

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from docgen.request import parse_request
from qujat.api import create_app
from qujat.settings import Settings
from tests.conftest import TYPES

REQUESTS = {"LandRightActRequest", "CadastralInformationRequest", "AddressCertificateRequest",
            "CadastralValueActRequest", "MotivatedRefusalRequest"}


@pytest.fixture(scope="module")
def openapi(live) -> dict:
    r = httpx2.get(f"{live.url}/openapi.json")
    assert r.status_code == 200
    return r.json()


def test_the_issuing_request_is_one_of_the_five_types_with_examples(openapi):
    schemas = openapi["components"]["schemas"]
    assert REQUESTS <= set(schemas)
    body = openapi["paths"]["/documents"]["post"]["requestBody"]["content"]["application/json"]
    refs = {one["$ref"].rsplit("/", 1)[1] for one in body["schema"]["oneOf"]}
    assert refs == REQUESTS
    assert body["schema"]["discriminator"]["propertyName"] == "type"
    assert set(body["examples"]) == set(TYPES)
    for doc_type, example in body["examples"].items():
        assert parse_request(example["value"]).type == doc_type
    land = schemas["LandRightActRequest"]
    assert land["properties"]["data"]["$ref"] == "#/components/schemas/LandRightActData"
    assert "plan" in schemas["LandRightActData"]["properties"]
    text = str(openapi)
    assert "#/$defs/" not in text                       # every reference resolves in components


def test_every_operation_and_its_errors_are_described(openapi):
    paths = openapi["paths"]
    assert {"/documents", "/documents/{document_id}", "/documents/{document_id}/pdf",
            "/documents/{document_id}/docx", "/documents/{document_id}/versions",
            "/documents/{document_id}/audit", "/documents/{document_id}/annul", "/verify"} <= set(paths)
    assert openapi["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http", "scheme": "bearer", "description": "an API key made with `qujat keys create --scope …`"}
    post = paths["/documents"]["post"]
    assert {"201", "200", "401", "403", "409", "422", "503"} <= set(post["responses"])
    assert post["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert "security" not in paths["/verify"]["post"]        # public
    assert paths["/verify"]["post"]["requestBody"]["content"].keys() == {"multipart/form-data"}


# The document of an app that is not started (building it starts nothing); the cases go to the
# session's running server, which serves the same document.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_generated_requests_get_no_server_error(case, live):
    case.call_and_validate(base_url=live.url, headers={"Authorization": f"Bearer {live.keys['issuer']}"},
                           checks=[not_a_server_error], timeout=60)
