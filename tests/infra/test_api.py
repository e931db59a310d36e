"""The REST API: x-api-key on /v1 except the public routes, usage plan, logs, tracing."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

pytestmark = pytest.mark.infra


def _methods(synth):
    """{(path, http method): properties} with the path rebuilt from the resource tree."""
    resources = synth.resources("AWS::ApiGateway::Resource")

    def path(ref):
        if "Fn::GetAtt" in ref:  # the root resource
            return ""
        props = resources[ref["Ref"]]["Properties"]
        return f"{path(props['ParentId'])}/{props['PathPart']}"

    return {
        (path(m["Properties"]["ResourceId"]), m["Properties"]["HttpMethod"]): m["Properties"]
        for m in synth.resources("AWS::ApiGateway::Method").values()
    }


def test_v1_routes_need_an_api_key(synth):
    method = _methods(synth)[("/v1/{proxy+}", "ANY")]
    assert method["ApiKeyRequired"] is True
    assert method["Integration"]["Type"] == "AWS_PROXY"


@pytest.mark.parametrize("path", ["/v1/health", "/v1/openapi.json"])
def test_health_and_openapi_need_no_api_key(synth, path):
    method = _methods(synth)[(path, "GET")]
    assert method.get("ApiKeyRequired", False) is False
    assert method["Integration"]["Type"] == "AWS_PROXY"


def test_there_are_no_other_routes(synth):
    assert set(_methods(synth)) == {
        ("/v1/{proxy+}", "ANY"),
        ("/v1/health", "GET"),
        ("/v1/health", "ANY"),
        ("/v1/openapi.json", "GET"),
        ("/v1/openapi.json", "ANY"),
        # One-click unsubscribe: the signed token is the authority, not the key.
        ("/v1/unsubscribe/{token}", "GET"),
        ("/v1/unsubscribe/{token}", "POST"),
        ("/v1/unsubscribe/{token}", "ANY"),
    }


@pytest.mark.parametrize("path", ["/v1/health", "/v1/openapi.json"])
def test_a_public_paths_other_methods_reach_the_function_key_free_for_its_405(synth, path):
    method = _methods(synth)[(path, "ANY")]
    assert method.get("ApiKeyRequired", False) is False
    assert method["Integration"]["Type"] == "AWS_PROXY"


def test_every_method_goes_through_the_request_validator(synth):
    [validator_id] = synth.resources("AWS::ApiGateway::RequestValidator")
    for method in _methods(synth).values():
        assert method["RequestValidatorId"] == {"Ref": validator_id}


def test_usage_plan_throttles_the_api_key(synth):
    synth.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {"Throttle": {"RateLimit": 25, "BurstLimit": 50}, "ApiStages": Match.any_value()},
    )
    synth.template.resource_count_is("AWS::ApiGateway::UsagePlanKey", 1)
    synth.template.resource_count_is("AWS::ApiGateway::ApiKey", 1)


def test_stage_has_access_logs_tracing_and_a_throttle(synth):
    [stage] = synth.resources("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["TracingEnabled"] is True
    assert "DestinationArn" in props["AccessLogSetting"]
    # The stage-wide throttle also covers the key-less routes.
    [settings] = props["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (25, 50)


def test_gateway_refusals_use_the_contract_error_shape(synth):
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }
    invalid_key = responses["INVALID_API_KEY"]
    assert invalid_key["StatusCode"] == "403"
    body = json.loads(invalid_key["ResponseTemplates"]["application/json"])
    assert body == {
        "error": {"code": "forbidden", "message": body["error"]["message"], "details": None}
    }
    assert responses["REQUEST_TOO_LARGE"]["StatusCode"] == "413"


def test_outputs_tell_how_to_reach_the_api(synth):
    outputs = synth.raw["Outputs"]
    assert {"ApiUrl", "ApiKeyId", "ApiKeyCommand"} <= set(outputs)
    command = json.dumps(outputs["ApiKeyCommand"]["Value"])
    assert "get-api-key" in command and "--include-value" in command
