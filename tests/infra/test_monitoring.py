"""Watching the pipeline: every alarm says what it means and what to do, goes to one
encrypted alarm topic, and reads metrics the functions really emit (mailroom.shape.Metric)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mailroom import shape

pytestmark = pytest.mark.infra

ALARMS = {"SendDlqNotEmpty", "EventsDlqNotEmpty", "SubscriptionDlqNotEmpty",
          "SendQueueBacklog", "PausedMailNearExpiry", "ApiErrors", "ApiThrottles",
          "SenderErrors", "SenderThrottles", "EventsErrors", "EventsThrottles",
          "SesBounceRate", "SesComplaintRate", "ReputationWarning", "ReputationPause",
          "SendingPaused"}


def alarms(synth) -> dict[str, dict[str, Any]]:
    """By the construct id the monitoring construct gave each."""
    return {name: synth.raw["Resources"][synth.stack.resolve(
                alarm.node.default_child.logical_id)]["Properties"]
            for name, alarm in synth.stack.monitoring.alarms.items()}


def test_every_alarm_is_there_and_notifies_the_alarm_topic_both_ways(synth):
    topic = synth.stack.resolve(synth.stack.monitoring.topic.topic_arn)
    found = alarms(synth)

    assert set(found) == ALARMS
    for name, alarm in found.items():
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic], name
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_each_alarm_says_what_it_means_and_what_to_do_first(synth):
    for name, alarm in alarms(synth).items():
        description = alarm["AlarmDescription"]
        assert len(description) > 80, name
        # a next step: a command, a console action or a place to look
        assert any(word in description for word in ("`mailroom", "Fix", "check", "Check",
                                                    "Raise", "Find", "Resume")), name


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(synth):
    topic_id = synth.stack.resolve(synth.stack.monitoring.topic.node.default_child.logical_id)
    topic = synth.raw["Resources"][topic_id]["Properties"]
    [key] = synth.resources("AWS::KMS::Key").values()
    assert topic["KmsMasterKeyId"]["Fn::GetAtt"][1] == "Arn"
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    [cloudwatch] = [s for s in statements
                    if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"]
    assert set(cloudwatch["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    assert "aws:SourceAccount" in cloudwatch["Condition"]["StringEquals"]


def test_an_alarm_email_is_subscribed_to_the_alarm_topic(synth):
    [email] = [s["Properties"] for s in synth.resources("AWS::SNS::Subscription").values()
               if s["Properties"]["Protocol"] == "email"]
    assert email["Endpoint"] == "ops@example.org"
    assert email["TopicArn"] == synth.stack.resolve(synth.stack.monitoring.topic.topic_arn)


def test_the_backlog_alarm_is_quiet_while_paused_and_the_expiry_alarm_only_then(synth):
    found = alarms(synth)
    backlog, expiry = found["SendQueueBacklog"], found["PausedMailNearExpiry"]

    for alarm, condition, threshold in ((backlog, "< 1", 1800), (expiry, ">= 1", 864000)):
        [expression] = [m for m in alarm["Metrics"] if "Expression" in m]
        assert expression["Expression"] == f"IF(FILL(paused, 0) {condition}, age, 0)"
        series = {m["Id"]: m["MetricStat"]["Metric"] for m in alarm["Metrics"]
                  if "MetricStat" in m}
        assert series["age"]["MetricName"] == "ApproximateAgeOfOldestMessage"
        assert series["paused"] == {
            "Namespace": shape.METRICS_NAMESPACE, "MetricName": shape.Metric.SENDING_PAUSED,
            "Dimensions": [{"Name": "service", "Value": shape.EVENTS.service}]}
        assert alarm["Threshold"] == threshold


def test_ses_reputation_alarms_fire_before_ses_reviews_the_account(synth):
    found = alarms(synth)
    assert (found["SesBounceRate"]["MetricName"], found["SesBounceRate"]["Threshold"]) == (
        "Reputation.BounceRate", 0.04)
    assert (found["SesComplaintRate"]["MetricName"],
            found["SesComplaintRate"]["Threshold"]) == ("Reputation.ComplaintRate", 0.0008)


def test_our_metric_alarms_read_what_the_functions_emit(synth):
    emitted = {member.value for member in shape.Metric}
    for name, alarm in alarms(synth).items():
        if alarm.get("Namespace") == shape.METRICS_NAMESPACE:
            assert alarm["MetricName"] in emitted, name
            assert [d["Name"] for d in alarm["Dimensions"]] == ["service"], name


def test_one_dashboard_shows_the_flow_rates_queues_dead_letters_and_errors(synth):
    [dashboard] = synth.resources("AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    body = json.loads("".join(p if isinstance(p, str) else "ref" for p in parts))
    titles = {widget["properties"].get("title") for widget in body["widgets"]}
    ours = {series[1] for widget in body["widgets"]
            for series in widget["properties"].get("metrics", [])
            if series[0] == shape.METRICS_NAMESPACE}

    assert {"Mail: accepted → sent → delivered / failed", "SES reputation against the thresholds",
            "Queue depth", "Oldest message (s)", "Dead letters", "Function errors and throttles",
            "Alarms"} <= titles
    assert {shape.Metric.ACCEPTED, shape.Metric.SENT, shape.Metric.DELIVERED,
            shape.Metric.HARD_BOUNCED, shape.Metric.SOFT_BOUNCED, shape.Metric.COMPLAINED,
            shape.Metric.UNCONFIRMED, shape.Metric.RETRIED, shape.Metric.THROTTLED} <= ours
