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
          "SendingPaused", "CanaryErrors", "CanaryThrottles", "CanaryFailed",
          "SesConfigurationFault", "RotationErrors", "RotationThrottles"}


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
        # No data is no trouble, except from the canary: no data means it is not running.
        missing = "breaching" if name == "CanaryFailed" else "notBreaching"
        assert alarm["TreatMissingData"] == missing, name


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
    ours = {name: alarm for name, alarm in alarms(synth).items()
            if alarm.get("Namespace") == shape.METRICS_NAMESPACE}

    assert set(ours) == {"ReputationWarning", "ReputationPause", "SendingPaused",
                         "CanaryFailed", "SesConfigurationFault"}
    for name, alarm in ours.items():
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


def test_the_canary_runs_every_15_minutes_and_alarms_on_a_failed_or_missing_result(synth):
    [schedule] = shape.CANARY.schedules
    assert schedule.every_minutes == 15
    alarm = alarms(synth)["CanaryFailed"]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (
        shape.Metric.CANARY_SUCCEEDED, "Minimum", 1800)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)


def test_the_canary_reads_the_api_key_from_api_gateway_never_from_its_environment(synth):
    _, function = synth.function(shape.CANARY.handler)
    env = function["Properties"]["Environment"]["Variables"]
    key_id = synth.stack.resolve(synth.stack.api.api_key.key_id)

    assert env["MAILROOM_API_KEY_ID"] == key_id
    assert not any("value" in name.lower() or name.endswith("_API_KEY") for name in env)
    [read] = [s for s in synth.role_statements(shape.CANARY.handler)
              if s["Action"] == "apigateway:GET"]
    assert key_id in read["Resource"]["Fn::Join"][1]
    assert env["MAILROOM_API_URL"]["Fn::Join"][1][0] == "https://"


def test_without_the_canary_there_is_no_canary_function_or_alarm(tmp_path):
    import aws_cdk as cdk

    from infra.config import MailroomConfig
    from infra.stack import MailroomStack
    from tests.infra.conftest import CONTEXT

    app = cdk.App(outdir=str(tmp_path), context={**CONTEXT, "canary": "off",
                                                 "aws:cdk:bundling-stacks": []})
    stack = MailroomStack(app, cfg=MailroomConfig.from_context(app.node.try_get_context))

    assert stack.canary is None
    assert "CanaryFailed" not in stack.monitoring.alarms
    assert shape.CANARY not in stack.functions


def test_a_configuration_fault_the_sender_counts_raises_an_alarm(synth):
    alarm = alarms(synth)["SesConfigurationFault"]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Threshold"]) == (
        shape.Metric.CONFIGURATION_FAULT, "Sum", 1)
    assert alarm["Dimensions"] == [{"Name": "service", "Value": shape.SENDER.service}]
