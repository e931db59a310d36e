"""DynamoDB tables: keys, indexes, TTL, point-in-time recovery, encryption, on-demand."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

pytestmark = pytest.mark.infra


def test_every_table_is_on_demand_recoverable_and_encrypted(synth):
    tables = synth.resources("AWS::DynamoDB::Table")
    assert len(tables) == 5  # messages, suppressions, idempotency, control, counters
    for table in tables.values():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"]["SSEEnabled"] is True


def test_messages_are_found_by_ses_message_id(synth):
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": [
                Match.object_like(
                    {
                        "IndexName": "by_ses_message_id",
                        "KeySchema": [{"AttributeName": "ses_message_id", "KeyType": "HASH"}],
                    }
                ),
                Match.any_value(),
            ],
        },
    )


def test_mail_awaiting_an_outcome_is_found_by_hour_in_a_keys_only_index(synth):
    """The sweep's sparse index: only keys, so each sent message costs one small write."""
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": Match.array_with([
                {
                    "IndexName": "awaiting_outcome",
                    "KeySchema": [{"AttributeName": "awaiting_hour", "KeyType": "HASH"},
                                  {"AttributeName": "sent_at", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ]),
        },
    )


def test_suppressions_expire_by_ttl_list_by_reason_and_find_an_addresss_categories(synth):
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            "GlobalSecondaryIndexes": [
                Match.object_like(
                    {
                        "IndexName": "by_reason",
                        "KeySchema": [
                            {"AttributeName": "reason", "KeyType": "HASH"},
                            {"AttributeName": "created_at", "KeyType": "RANGE"},
                        ],
                    }
                ),
                Match.object_like(
                    {
                        "IndexName": "by_address",
                        "KeySchema": [
                            {"AttributeName": "address", "KeyType": "HASH"},
                            {"AttributeName": "category", "KeyType": "RANGE"},
                        ],
                    }
                ),
            ],
        },
    )


def test_idempotency_table_has_the_powertools_layout(synth):
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        },
    )


def test_counters_are_keyed_by_hour_and_shard_then_counter_and_expire_by_ttl(synth):
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "hour_shard", "KeyType": "HASH"},
                {"AttributeName": "counter", "KeyType": "RANGE"},
            ],
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
        },
    )


def test_message_history_suppressions_and_the_sending_switch_survive_stack_deletion(synth):
    retained = [
        t["Properties"]["KeySchema"][0]["AttributeName"]
        for t in synth.resources("AWS::DynamoDB::Table").values()
        if t.get("DeletionPolicy") == "Retain"
    ]
    assert sorted(retained) == ["email", "id", "name"]  # messages, suppressions, control
