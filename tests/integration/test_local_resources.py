"""The local stack's AWS resources, read back from moto, are what mailroom.shape declares —
the same declaration the CDK stack is built from (tests/infra/test_shape.py)."""

from __future__ import annotations

import json

import boto3
import pytest

from mailroom import shape
from mailroom_dev.local.stack import settings_environment

from .conftest import REGION


@pytest.mark.parametrize("table", shape.TABLES, ids=lambda t: t.name)
def test_each_table_has_its_declared_keys_indexes_and_ttl(resources, table):
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    described = dynamodb.describe_table(TableName=resources.tables[table.name])["Table"]

    assert described["KeySchema"] == [{"AttributeName": key, "KeyType": kind} for key, kind
                                      in zip(table.keys, ("HASH", "RANGE"), strict=False)]
    indexes = {i["IndexName"]: i for i in described.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == {index.name for index in table.indexes}
    for index in table.indexes:
        assert [k["AttributeName"] for k in indexes[index.name]["KeySchema"]] == list(index.keys)
        assert indexes[index.name]["Projection"]["ProjectionType"] == index.projection.value
    ttl = dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
    assert ttl.get("AttributeName") == table.ttl_attribute
    assert ttl["TimeToLiveStatus"] == ("ENABLED" if table.ttl_attribute else "DISABLED")


@pytest.mark.parametrize("queue", shape.QUEUES, ids=lambda q: q.name)
def test_each_queue_has_its_declared_visibility_retention_and_redrive(resources, queue):
    sqs = boto3.client("sqs", region_name=REGION)
    urls = resources.queues[queue.name]
    attributes = sqs.get_queue_attributes(QueueUrl=urls.url, AttributeNames=["All"])[
        "Attributes"]
    dlq = sqs.get_queue_attributes(QueueUrl=urls.dlq_url, AttributeNames=["All"])["Attributes"]

    assert int(attributes["VisibilityTimeout"]) == queue.visibility_timeout_seconds
    assert int(attributes["MessageRetentionPeriod"]) == queue.retention_seconds
    redrive = json.loads(attributes["RedrivePolicy"])
    assert (redrive["deadLetterTargetArn"], int(redrive["maxReceiveCount"])) == (
        urls.dlq_arn, queue.max_receive_count)
    assert int(dlq["MessageRetentionPeriod"]) == queue.dlq_retention_seconds


@pytest.mark.parametrize("topic", shape.TOPICS, ids=lambda t: t.name)
def test_each_topic_delivers_to_its_declared_queues_in_the_sns_envelope(resources, topic):
    sns = boto3.client("sns", region_name=REGION)
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=resources.topics[topic.name])[
        "Subscriptions"]
    endpoints = {s["Endpoint"] for s in subscriptions}

    assert {resources.queues[q.name].arn for q in topic.queues} <= endpoints
    for subscription in subscriptions:
        raw = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])[
            "Attributes"].get("RawMessageDelivery", "false")
        assert raw == "false"


@pytest.mark.parametrize("spec", shape.FUNCTIONS, ids=lambda f: f.name)
def test_each_function_is_told_the_names_of_the_resources_it_uses(resources, spec):
    env = settings_environment(resources)

    for setting, resource in spec.wired_settings.items():
        assert env[f"MAILROOM_{setting.upper()}"] == resources.identifier(resource)
    assert env["MAILROOM_MAX_RECEIVE_COUNT"] == str(shape.SEND_QUEUE.max_receive_count)
