"""The synthesized template's security, read from the shape rather than restated: every
route not marked public needs the API key; the SNS topics take publishes only from SES (for
this configuration set, in this account) and from the functions that declare it; cfn-lint,
with the serverless rules, finds nothing but the exceptions written down here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mailroom import shape

pytestmark = pytest.mark.infra

# cfn-lint rule → why its finding does not apply to this stack. A rule that stops finding
# anything must leave this table (test_every_cfn_lint_exception_is_still_needed).
CFN_LINT_EXCEPTIONS = {
    "ES1001": "An SQS event source's failures go to the queue's own DLQ through its redrive "
              "policy; an OnFailure destination is for stream sources.",
    "ES1007": "The asynchronous invokes are the schedules (reputation check, sweep, canary): "
              "a failed run is superseded by the next, and the canary's alarm fires on "
              "silence, so there is nothing to keep.",
    "ES4000": "Same schedules: a missed run needs no dead-letter queue.",
    "ES6000": "These queues are the dead-letter queues (the queues' and the subscription's): "
              "the end of the line, alarmed on and redriven by hand (`mailroom dlq redrive`).",
    "ES7000": "Only the alarm topic's email subscription lacks one: a DLQ would keep alarms "
              "nobody reads; a failed delivery shows in SNS's NumberOfNotificationsFailed. "
              "The SES events subscription has its DLQ.",
    "W3005": "CDK adds DependsOn on each function's role policy so the role can act before the "
             "function first runs; the GetAtt alone would not wait for the policy.",
    "WS1004": "Each function logs to its own log group with a retention (LoggingConfig); the "
              "rule only looks for the default /aws/lambda/<name> group.",
}


def _api_tree(raw: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """{resource path: {http method: method properties}}, paths in API Gateway's syntax."""
    resources = {key: r["Properties"] for key, r in raw["Resources"].items()
                 if r["Type"] == "AWS::ApiGateway::Resource"}

    def path(ref: dict[str, Any]) -> str:
        if "Fn::GetAtt" in ref:  # the root resource
            return ""
        props = resources[ref["Ref"]]
        return f"{path(props['ParentId'])}/{props['PathPart']}"

    tree: dict[str, dict[str, dict[str, Any]]] = {}
    for resource in raw["Resources"].values():
        if resource["Type"] == "AWS::ApiGateway::Method":
            props = resource["Properties"]
            tree.setdefault(path(props["ResourceId"]), {})[props["HttpMethod"]] = props
    return tree


def _serving_method(tree: dict[str, dict[str, dict[str, Any]]],
                    route: shape.Route) -> dict[str, Any]:
    """The method API Gateway picks for a request to `route`: the resource matching the
    most path segments exactly (a {param} matches one, {proxy+} the rest), its own method
    before ANY."""
    segments = route.openapi_path.strip("/").split("/")

    def score(resource_path: str) -> tuple[int, int] | None:
        parts = resource_path.strip("/").split("/")
        exact = 0
        for index, part in enumerate(parts):
            if part.endswith("+}"):
                return (exact, 0) if index < len(segments) else None
            if index >= len(segments):
                return None
            if part == segments[index]:
                exact += 1
            elif not part.startswith("{"):
                return None
        return (exact, 1) if len(parts) == len(segments) else None

    candidates = [(s, p) for p in tree if (s := score(p)) is not None
                  and (route.method in tree[p] or "ANY" in tree[p])]
    assert candidates, f"no API Gateway method serves {route.method} {route.path}"
    _, best = max(candidates)
    return tree[best].get(route.method) or tree[best]["ANY"]


@pytest.mark.parametrize("route", [r for r in shape.ROUTES if not r.public],
                         ids=lambda r: f"{r.method} {r.path}")
def test_every_route_not_marked_public_needs_the_api_key(synth, route):
    method = _serving_method(_api_tree(synth.raw), route)

    assert method["ApiKeyRequired"] is True
    assert method.get("AuthorizationType", "NONE") == "NONE"  # the key is the check


@pytest.mark.parametrize("route", shape.ROUTES.public, ids=lambda r: f"{r.method} {r.path}")
def test_public_routes_are_served_without_the_key(synth, route):
    assert _serving_method(_api_tree(synth.raw), route).get("ApiKeyRequired") is False


def _topic_statements(synth, topic: shape.Topic) -> list[dict[str, Any]]:
    [topic_id] = [key for key, r in synth.resources("AWS::SNS::Topic").items()
                  if r["Properties"]["DisplayName"] == topic.display_name]
    return [statement for policy in synth.resources("AWS::SNS::TopicPolicy").values()
            if {"Ref": topic_id} in policy["Properties"]["Topics"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]]


def _role_of(synth, spec: shape.Function) -> dict[str, Any]:
    _, function = synth.function(spec.handler)
    return {"Fn::GetAtt": [function["Properties"]["Role"]["Fn::GetAtt"][0], "Arn"]}


@pytest.mark.parametrize("topic", shape.TOPICS, ids=lambda t: t.name)
def test_a_topic_denies_publishes_from_anyone_but_its_declared_publishers(synth, topic):
    publishers = [spec for spec in shape.FUNCTIONS for access in spec.access
                  if access.resource == topic and "Publish" in access.actions]
    [deny] = [s for s in _topic_statements(synth, topic)
              if s["Effect"] == "Deny" and "aws:PrincipalIsAWSService" in json.dumps(s)]

    assert deny["Action"] == "sns:Publish" and deny["Principal"] == {"AWS": "*"}
    assert deny["Condition"]["Bool"] == {"aws:PrincipalIsAWSService": "false"}
    allowed = deny["Condition"].get("ArnNotEquals", {}).get("aws:PrincipalArn", [])
    assert sorted(map(json.dumps, allowed)) == sorted(
        json.dumps(_role_of(synth, spec)) for spec in publishers)


@pytest.mark.parametrize("topic", shape.TOPICS, ids=lambda t: t.name)
def test_the_only_service_a_topic_lets_publish_is_ses_for_our_configuration_set(synth, topic):
    allows = [s for s in _topic_statements(synth, topic) if s["Effect"] == "Allow"]
    [configuration_set] = synth.resources("AWS::SES::ConfigurationSet")

    for allow in allows:
        assert allow["Principal"] == {"Service": "ses.amazonaws.com"}
        assert allow["Action"] == "sns:Publish"
        conditions = allow["Condition"]["StringEquals"]
        assert conditions["AWS:SourceAccount"] == {"Ref": "AWS::AccountId"}
        assert {"Ref": configuration_set} in conditions["AWS:SourceArn"]["Fn::Join"][1]
        assert "configuration-set/" in json.dumps(conditions["AWS:SourceArn"])
    # SES publishes where the configuration set sends its events, nowhere else.
    assert bool(allows) == (topic is shape.SES_EVENTS_TOPIC)


@pytest.fixture(scope="module")
def cfn_lint_findings(synth, tmp_path_factory) -> list[dict[str, Any]]:
    template = tmp_path_factory.mktemp("cfn-lint") / "template.json"
    template.write_text(json.dumps(synth.raw))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "json",
         "--append-rules", "cfn_lint_serverless.rules", "--", str(template)],
        capture_output=True, text=True, cwd=Path(__file__).parent)
    assert result.returncode in (0, 2, 4, 6, 8, 10, 12, 14), result.stderr  # bit 1: a crash
    return json.loads(result.stdout or "[]")


def test_cfn_lint_with_the_serverless_rules_finds_only_the_written_down_exceptions(
        cfn_lint_findings):
    unexplained = [f"{finding['Rule']['Id']} {finding['Message']}"
                   for finding in cfn_lint_findings
                   if finding["Rule"]["Id"] not in CFN_LINT_EXCEPTIONS]

    assert unexplained == []


def test_every_cfn_lint_exception_is_still_needed(cfn_lint_findings):
    found = {finding["Rule"]["Id"] for finding in cfn_lint_findings}

    assert set(CFN_LINT_EXCEPTIONS) <= found
