"""Queues, topics and the wiring between them (DESIGN §1)."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

pytestmark = pytest.mark.infra


def _queue_of_mapping(synth, handler):
    fn_id, _ = synth.function(handler)
    [mapping] = [
        m["Properties"]
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": fn_id}
    ]
    queue_id = mapping["EventSourceArn"]["Fn::GetAtt"][0]
    return mapping, synth.raw["Resources"][queue_id]["Properties"]


@pytest.mark.parametrize(
    ("handler", "max_concurrency"),
    [("handlers.sender.handler", 3), ("handlers.events.handler", 2)],
)
def test_sqs_consumers_report_partial_batch_failures(synth, handler, max_concurrency):
    mapping, _ = _queue_of_mapping(synth, handler)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10
    # Caps the fleet: the sender never outruns the SES send rate.
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": max_concurrency}


@pytest.mark.parametrize("handler", ["handlers.sender.handler", "handlers.events.handler"])
def test_work_queues_dead_letter_after_eight_receives(synth, handler):
    _, queue = _queue_of_mapping(synth, handler)
    policy = queue["RedrivePolicy"]
    assert policy["maxReceiveCount"] == 8
    dlq = synth.raw["Resources"][policy["deadLetterTargetArn"]["Fn::GetAtt"][0]]
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


@pytest.mark.parametrize("handler", ["handlers.sender.handler", "handlers.events.handler"])
def test_visibility_timeout_is_six_times_the_consumer_timeout(synth, handler):
    _, fn = synth.function(handler)
    _, queue = _queue_of_mapping(synth, handler)
    assert queue["VisibilityTimeout"] == 6 * fn["Properties"]["Timeout"]


def test_every_queue_is_encrypted_and_tls_only(synth):
    queues = synth.resources("AWS::SQS::Queue")
    assert len(queues) == 5  # send + events, each with its DLQ, and the subscription DLQ
    for queue in queues.values():
        assert queue["Properties"].get("SqsManagedSseEnabled") or queue["Properties"].get(
            "KmsMasterKeyId"
        )
    deny_insecure = Match.object_like(
        {
            "PolicyDocument": Match.object_like(
                {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                }
            )
        }
    )
    synth.template.resource_properties_count_is("AWS::SQS::QueuePolicy", deny_insecure, 5)


def test_topics_are_kms_encrypted_and_tls_only(synth):
    topics = synth.resources("AWS::SNS::Topic")
    assert len(topics) == 3  # ses-events, notifications and alarms
    for topic in topics.values():
        assert "KmsMasterKeyId" in topic["Properties"]
    synth.template.resource_properties_count_is(
        "AWS::SNS::TopicPolicy",
        Match.object_like(
            {
                "PolicyDocument": Match.object_like(
                    {
                        "Statement": Match.array_with(
                            [Match.object_like({"Effect": "Deny", "Action": "sns:Publish"})]
                        )
                    }
                )
            }
        ),
        3,
    )


def test_ses_may_use_the_topic_key(synth):
    [key] = synth.resources("AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    [ses] = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": "ses.amazonaws.com"}
    ]
    assert set(ses["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    assert "aws:SourceAccount" in ses["Condition"]["StringEquals"]


def test_ses_may_publish_to_the_events_topic(synth):
    synth.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": Match.object_like(
                {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Allow",
                                    "Action": "sns:Publish",
                                    "Principal": {"Service": "ses.amazonaws.com"},
                                }
                            )
                        ]
                    )
                }
            )
        },
    )


def test_ses_events_reach_the_events_queue_in_their_sns_envelope(synth):
    [subscription] = [s for s in synth.resources("AWS::SNS::Subscription").values()
                      if s["Properties"]["Protocol"] == "sqs"]
    props = subscription["Properties"]
    assert props["Protocol"] == "sqs"
    assert not props.get("RawMessageDelivery", False)
    _, events_queue = _queue_of_mapping(synth, "handlers.events.handler")
    queue_ids = {
        k for k, q in synth.resources("AWS::SQS::Queue").items() if q["Properties"] is events_queue
    }
    assert props["Endpoint"]["Fn::GetAtt"][0] in queue_ids
    # What SNS cannot deliver goes to a dead-letter queue of the subscription's own.
    dlq = synth.stack.resolve(synth.stack.events.subscription_dlq.queue_arn)
    assert props["RedrivePolicy"] == {"deadLetterTargetArn": dlq}
