"""The synthesized template is what mailroom.shape declares: every table, queue, function,
event source, IAM access and public route, read back from the CloudFormation JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mailroom import shape

pytestmark = pytest.mark.infra

SERVICE_OF = {shape.Table: "dynamodb", shape.Queue: "sqs", shape.DeadLetters: "sqs",
              shape.Secret: "secretsmanager",
              shape.Topic: "sns",
              shape.SesSending: "ses", shape.Consumer: "lambda", shape.ApiKey: "apigateway"}


def logical_id(synth, construct) -> str:
    return synth.stack.resolve(construct.node.default_child.logical_id)


def queue_id(synth, queue: shape.Queue) -> str:
    return logical_id(synth, synth.stack.factory.bound(queue).queue)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("table", shape.TABLES, ids=lambda t: t.name)
def test_each_table_has_its_declared_keys_indexes_ttl_and_retention(synth, table):
    resource = synth.raw["Resources"][logical_id(synth, synth.stack.storage.tables[table])]
    props = resource["Properties"]

    assert props["KeySchema"] == [{"AttributeName": key, "KeyType": kind} for key, kind
                                  in zip(table.keys, ("HASH", "RANGE"), strict=False)]
    indexes = {index["IndexName"]: index for index in props.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == {index.name for index in table.indexes}
    for index in table.indexes:
        declared = [{"AttributeName": key, "KeyType": kind}
                    for key, kind in zip(index.keys, ("HASH", "RANGE"), strict=False)]
        assert indexes[index.name]["KeySchema"] == declared
        assert indexes[index.name]["Projection"] == {"ProjectionType": index.projection.value}
    ttl = props.get("TimeToLiveSpecification")
    assert ttl == ({"AttributeName": table.ttl_attribute, "Enabled": True}
                   if table.ttl_attribute else None)
    assert resource["DeletionPolicy"] == ("Retain" if table.retain else "Delete")


@pytest.mark.parametrize("queue", shape.QUEUES, ids=lambda q: q.name)
def test_each_queue_has_its_declared_visibility_retention_and_redrive(synth, queue):
    props = synth.raw["Resources"][queue_id(synth, queue)]["Properties"]

    assert props["VisibilityTimeout"] == queue.visibility_timeout_seconds
    assert props["MessageRetentionPeriod"] == queue.retention_seconds
    assert props["RedrivePolicy"]["maxReceiveCount"] == queue.max_receive_count
    dlq_id = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    dlq = synth.raw["Resources"][dlq_id]["Properties"]
    assert dlq["MessageRetentionPeriod"] == queue.dlq_retention_seconds


def test_the_send_queue_keeps_mail_for_fourteen_days(synth):
    props = synth.raw["Resources"][queue_id(synth, shape.SEND_QUEUE)]["Properties"]
    assert props["MessageRetentionPeriod"] == 14 * 24 * 3600


@pytest.mark.parametrize("spec", shape.FUNCTIONS, ids=lambda f: f.name)
def test_each_function_has_its_declared_handler_limits_and_service(synth, spec):
    _, function = synth.function(spec.handler)
    props = function["Properties"]

    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout_seconds
    assert props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == spec.service
    assert props["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == \
        shape.METRICS_NAMESPACE


@pytest.mark.parametrize("spec", shape.FUNCTIONS, ids=lambda f: f.name)
def test_each_function_reads_exactly_its_declared_event_source(synth, spec):
    function_id, _ = synth.function(spec.handler)
    mappings = [m["Properties"] for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
                if m["Properties"]["FunctionName"] == {"Ref": function_id}]
    if spec.event_source is None:
        assert mappings == []
        return
    [mapping] = mappings
    source = spec.event_source
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue_id(synth, source.queue), "Arn"]}
    assert mapping["BatchSize"] == source.batch_size
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    context_key = f"{spec.name}_max_concurrency"
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == getattr(synth.cfg, context_key)


def access_statements(synth, spec: shape.Function) -> list[dict[str, Any]]:
    _, function = synth.function(spec.handler)
    role = synth.raw["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]
    [policy] = [p for p in role["Properties"]["Policies"] if p["PolicyName"] == "Access"]
    return policy["PolicyDocument"]["Statement"]


def bound_arn(synth, resource: shape.Resource) -> Any:
    if isinstance(resource, shape.Table):
        return {"Fn::GetAtt": [logical_id(synth, synth.stack.storage.tables[resource]), "Arn"]}
    if isinstance(resource, shape.Queue):
        return {"Fn::GetAtt": [queue_id(synth, resource), "Arn"]}
    if isinstance(resource, shape.DeadLetters):
        owner = synth.stack.factory.bound(resource.queue).queue.node.scope  # QueueWithDlq
        return {"Fn::GetAtt": [logical_id(synth, owner.dlq), "Arn"]}
    if isinstance(resource, shape.Topic):
        return synth.stack.resolve(synth.stack.factory.bound(resource).identifier)
    if isinstance(resource, shape.Consumer):
        mapping = synth.stack.resolve(synth.stack.factory.bound(resource).identifier)
        return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":lambda:",
                                  {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"},
                                  ":event-source-mapping:", mapping]]}
    if isinstance(resource, shape.ApiKey):
        key = synth.stack.resolve(synth.stack.factory.bound(resource).identifier)
        return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":apigateway:",
                                  {"Ref": "AWS::Region"}, "::/apikeys/", key]]}
    if isinstance(resource, shape.Secret):
        return synth.stack.resolve(synth.stack.factory.bound(resource).identifier)
    return None  # SES: its ARNs are checked in test_functions.py


@pytest.mark.parametrize("spec", shape.FUNCTIONS, ids=lambda f: f.name)
def test_each_function_may_do_exactly_what_its_declared_access_says(synth, spec):
    # (action, resource) pairs: CDK merges statements that share actions or resources.
    granted = {(action, json.dumps(resource, sort_keys=True))
               for s in access_statements(synth, spec)
               for action in as_list(s["Action"]) for resource in as_list(s["Resource"])}

    declared = set()
    for access in spec.access:
        service = SERVICE_OF[type(access.resource)]
        arn = bound_arn(synth, access.resource)
        if arn is None:  # SES: its ARNs and conditions are checked in test_functions.py
            granted = {(a, r) for a, r in granted if not a.startswith(f"{service}:")}
            continue
        arns = [arn] + ([{"Fn::Join": ["", [arn, f"/index/{access.index.name}"]]}]
                        if access.index else [])
        declared |= {(f"{service}:{action}", json.dumps(a, sort_keys=True))
                     for action in access.actions for a in arns}
    granted = {(a, r) for a, r in granted if not a.startswith("kms:")}
    assert granted == declared


@pytest.mark.parametrize("spec", shape.FUNCTIONS, ids=lambda f: f.name)
def test_publishing_to_an_encrypted_topic_takes_its_key_and_nothing_more(synth, spec):
    actions = {action for s in access_statements(synth, spec) for action in as_list(s["Action"])}
    publishes = any(isinstance(a.resource, shape.Topic) for a in spec.access)

    kms = {action for action in actions if action.startswith("kms:")}
    assert kms == ({"kms:GenerateDataKey", "kms:Decrypt"} if publishes else set())


@pytest.mark.parametrize("spec", shape.FUNCTIONS, ids=lambda f: f.name)
def test_each_function_is_told_the_names_of_exactly_the_resources_it_uses(synth, spec):
    _, function = synth.function(spec.handler)
    variables = function["Properties"]["Environment"]["Variables"]

    for setting, resource in spec.wired_settings.items():
        identifier = synth.stack.resolve(synth.stack.factory.bound(resource).identifier)
        assert variables[f"MAILROOM_{setting.upper()}"] == identifier


@pytest.mark.parametrize("route", shape.ROUTES.public, ids=lambda r: r.path)
def test_each_public_route_is_a_resource_without_the_key(synth, route):
    paths = {synth.stack.resolve(r["Properties"]["PathPart"]): key
             for key, r in synth.resources("AWS::ApiGateway::Resource").items()}
    resource_id = paths[route.openapi_path.rsplit("/", 1)[1]]
    methods = {m["Properties"]["HttpMethod"]: m["Properties"]
               for m in synth.resources("AWS::ApiGateway::Method").values()
               if m["Properties"]["ResourceId"] == {"Ref": resource_id}}

    at_path = {r.method for r in shape.ROUTES.public if r.openapi_path == route.openapi_path}
    assert set(methods) == at_path | {"ANY"}  # ANY: the function answers 405
    assert all(method["ApiKeyRequired"] is False for method in methods.values())


@pytest.mark.parametrize(("spec", "schedule"),
                         [(f, s) for f in shape.FUNCTIONS for s in f.schedules],
                         ids=lambda value: getattr(value, "name", None) or value.task)
def test_each_schedule_runs_its_function_at_its_declared_rate_with_its_task(synth, spec,
                                                                            schedule):
    function_id, _ = synth.function(spec.handler)
    rules = [r["Properties"] for r in synth.resources("AWS::Events::Rule").values()
             if any(t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
                    for t in r["Properties"]["Targets"])]
    [rule] = [r for r in rules if json.loads(r["Targets"][0]["Input"]) == schedule.event]

    amount, unit = rule["ScheduleExpression"].removeprefix("rate(").rstrip(")").split()
    assert int(amount) * {"minute": 1, "minutes": 1, "hour": 60, "hours": 60}[unit] == \
        schedule.every_minutes
