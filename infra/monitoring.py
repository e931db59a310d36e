"""Watching the pipeline (DESIGN §1): alarms that say what they mean and what to do first, to
one alarm topic, and one dashboard. Every metric of Mailroom's own is declared in
`mailroom.shape.Metric` and dimensioned by function only (`service`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mailroom import shape
from mailroom.reputation import SES_REVIEW
from mailroom.settings import EventsSettings

from .config import MailroomConfig

# What SES's own review watches, as fractions; the guard pauses at these by default.
SES_BOUNCE_RATE_ALARM = EventsSettings.model_fields["reputation_pause_bounce_rate"].default
SES_COMPLAINT_RATE_ALARM = EventsSettings.model_fields["reputation_pause_complaint_rate"].default
WARN_BOUNCE_RATE = EventsSettings.model_fields["reputation_warn_bounce_rate"].default
WARN_COMPLAINT_RATE = EventsSettings.model_fields["reputation_warn_complaint_rate"].default
# The events function reports whether sending is paused on its 10-minute schedule: a
# 15-minute period always holds one report.
PAUSE_PERIOD = Duration.minutes(15)
COUNT_PERIOD = Duration.minutes(5)
# The canary runs every 15 minutes: a 30-minute period always holds one of its results.
CANARY_PERIOD = Duration.minutes(30)
# While paused, mail waits in the send queue for its 14 days; warn with 4 left.
PAUSED_WAIT_ALARM_SECONDS = 10 * 24 * 3600


@dataclass(frozen=True)
class Watched:
    """What the alarms and the dashboard look at."""

    functions: Mapping[shape.Function, lambda_.IFunction]
    send_queue: sqs.IQueue
    events_queue: sqs.IQueue
    dead_letter_queues: Mapping[str, tuple[sqs.IQueue, str]]  # name → (queue, what to do)


def metric(name: shape.Metric, function: shape.Function, statistic: str = "Sum",
           period: Duration = COUNT_PERIOD) -> cw.Metric:
    return cw.Metric(namespace=shape.METRICS_NAMESPACE, metric_name=name.value,
                     dimensions_map={"service": function.service}, statistic=statistic,
                     period=period)


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: MailroomConfig,
                 key: kms.IKey, watched: Watched) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "AlarmTopic", display_name="Mailroom alarms",
                               master_key=key, enforce_ssl=True)
        if cfg.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(cfg.alarm_email))
        self._action = actions.SnsAction(self.topic)
        self.alarms: dict[str, cw.Alarm] = {}
        self._queue_alarms(cfg, watched)
        self._function_alarms(watched)
        self._configuration_fault_alarm()
        self._reputation_alarms()
        if shape.CANARY in watched.functions:
            self._canary_alarm()
        self.dashboard = self._dashboard(watched)

    def _canary_alarm(self) -> None:
        alarm = self._alarm(
            "CanaryFailed",
            metric(shape.Metric.CANARY_SUCCEEDED, shape.CANARY, "Minimum", CANARY_PERIOD), 1,
            "The canary's round trip through the API, the sender, SES and the feedback path "
            "failed, or the canary did not run at all. Its email.canary_failed notification "
            "and its log (mailroom-canary) name the hop; `mailroom canary run` tries one now.",
            comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD)
        # No data means no canary: as bad as a failed one.
        alarm.node.default_child.treat_missing_data = "breaching"  # type: ignore[union-attr]

    def _alarm(self, name: str, target: cw.IMetric, threshold: float, description: str,
               *, comparison: cw.ComparisonOperator =
               cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD) -> cw.Alarm:
        alarm = cw.Alarm(
            self, name, metric=target, threshold=threshold, evaluation_periods=1,
            comparison_operator=comparison, alarm_description=description,
            # No data is no trouble: no dead letters, no errors, no warning.
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms[name] = alarm
        return alarm

    def _queue_alarms(self, cfg: MailroomConfig, watched: Watched) -> None:
        for name, (dlq, what_to_do) in watched.dead_letter_queues.items():
            self._alarm(
                f"{name}NotEmpty",
                dlq.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5), statistic="Maximum"),
                1, what_to_do)
        age = watched.send_queue.metric_approximate_age_of_oldest_message(
            period=PAUSE_PERIOD, statistic="Maximum")
        paused = metric(shape.Metric.SENDING_PAUSED, shape.EVENTS, "Maximum", PAUSE_PERIOD)
        self._alarm(
            "SendQueueBacklog",
            cw.MathExpression(expression="IF(FILL(paused, 0) < 1, age, 0)",
                              using_metrics={"age": age, "paused": paused},
                              period=PAUSE_PERIOD, label="Oldest queued mail, not paused (s)"),
            cfg.queue_age_alarm_seconds,
            f"Mail has waited over {cfg.queue_age_alarm_seconds // 60} minutes in the send "
            "queue while sending is not paused: the sender is not keeping up or not running. "
            "First check the sender's errors and throttles, its event source mapping "
            "(enabled?), and SES's quota (`mailroom doctor`).")
        self._alarm(
            "PausedMailNearExpiry",
            cw.MathExpression(expression="IF(FILL(paused, 0) >= 1, age, 0)",
                              using_metrics={"age": age, "paused": paused},
                              period=PAUSE_PERIOD, label="Oldest mail waiting out a pause (s)"),
            PAUSED_WAIT_ALARM_SECONDS,
            "Sending has been paused long enough that the oldest waiting mail is 10 days old; "
            "SQS deletes it at 14. Fix what the pause is for and resume (`mailroom sending "
            "resume --reason ...`), or accept that this mail will be lost.")

    def _function_alarms(self, watched: Watched) -> None:
        for spec, function in watched.functions.items():
            title = spec.name.capitalize()
            self._alarm(
                f"{title}Errors",
                function.metric_errors(period=Duration.minutes(5), statistic="Sum"), 1,
                f"The {spec.name} function failed (an unhandled error). Its log group "
                f"({spec.service}) says why; Mailroom retries what SQS delivers, so check the "
                "dead-letter queues too.")
            self._alarm(
                f"{title}Throttles",
                function.metric_throttles(period=Duration.minutes(5), statistic="Sum"), 1,
                f"Lambda throttled the {spec.name} function: the account's concurrency is used "
                "up. Raise the account's Lambda concurrency quota or lower other functions' "
                "use; queued work waits meanwhile.")

    def _configuration_fault_alarm(self) -> None:
        self._alarm(
            "SesConfigurationFault",
            metric(shape.Metric.CONFIGURATION_FAULT, shape.SENDER), 1,
            "SES refuses every message because of the set-up, not the mail: the MAIL FROM "
            "domain is not verified, the account is suspended, or this stack's template or "
            "configuration set is missing. Mail waits in the send queue. Check the sender's "
            "log (it names the fault) and `mailroom doctor`, fix it, and mail goes out.")

    def _reputation_alarms(self) -> None:
        for name, ses_metric, threshold in (
            ("SesBounceRate", "Reputation.BounceRate", SES_BOUNCE_RATE_ALARM),
            ("SesComplaintRate", "Reputation.ComplaintRate", SES_COMPLAINT_RATE_ALARM),
        ):
            self._alarm(
                name,
                cw.Metric(namespace="AWS/SES", metric_name=ses_metric, statistic="Maximum",
                          period=Duration.hours(1)),
                threshold,
                f"SES's own {ses_metric} for the account is at {threshold:.2%} or more; SES "
                f"reviews accounts from {SES_REVIEW.bounce_rate:.0%} bounces / "
                f"{SES_REVIEW.complaint_rate:.1%} complaints. Find where the bad "
                "addresses come from (`mailroom report`, the suppression list) before sending "
                "more.")
        self._alarm(
            "ReputationWarning", metric(shape.Metric.REPUTATION_WARNING, shape.EVENTS), 1,
            "Mailroom's reputation guard is at its warning level (2% bounces / 0.05% "
            "complaints by default): it pauses sending at the next level. `mailroom "
            "reputation` shows the figures; find the source of the bounces or complaints.")
        self._alarm(
            "ReputationPause", metric(shape.Metric.REPUTATION_PAUSE, shape.EVENTS), 1,
            "The reputation guard paused sending (its figures are in the pause's reason: "
            "`mailroom sending status`). Mail waits. Find the cause, then `mailroom sending "
            "resume --reason ...`; the guard never resumes by itself.")
        self._alarm(
            "SendingPaused",
            metric(shape.Metric.SENDING_PAUSED, shape.EVENTS, "Maximum", PAUSE_PERIOD), 1,
            "Sending is paused (by an operator or the reputation guard: `mailroom sending "
            "status` says who, when and why). The API answers 503 and queued mail waits up "
            "to 14 days. Resume with `mailroom sending resume --reason ...`.")

    def _dashboard(self, watched: Watched) -> cw.Dashboard:
        sender, events, api = shape.SENDER, shape.EVENTS, shape.API
        outcomes = [metric(shape.Metric.ACCEPTED, api), metric(shape.Metric.SENT, sender)] + [
            metric(name, events) for name in (
                shape.Metric.DELIVERED, shape.Metric.HARD_BOUNCED, shape.Metric.SOFT_BOUNCED,
                shape.Metric.COMPLAINED, shape.Metric.REJECTED, shape.Metric.RENDER_FAILED,
                shape.Metric.UNCONFIRMED)] + [
            metric(name, sender) for name in (shape.Metric.SUPPRESSED, shape.Metric.FAILED)]
        rates = [cw.Metric(namespace="AWS/SES", metric_name=name, statistic="Maximum",
                           period=Duration.hours(1), label=name)
                 for name in ("Reputation.BounceRate", "Reputation.ComplaintRate")]
        queues = {"send": watched.send_queue, "ses-events": watched.events_queue}
        dashboard = cw.Dashboard(self, "Dashboard",
                                 dashboard_name=f"{Stack.of(self).stack_name}-mailroom")
        dashboard.add_widgets(
            cw.GraphWidget(title="Mail: accepted → sent → delivered / failed", left=outcomes,
                           width=24, stacked=False),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="SES reputation against the thresholds", left=rates, width=12,
                left_annotations=[
                    cw.HorizontalAnnotation(value=WARN_BOUNCE_RATE, label="guard warns (bounces)"),
                    cw.HorizontalAnnotation(value=SES_BOUNCE_RATE_ALARM,
                                            label="guard pauses (bounces)"),
                    cw.HorizontalAnnotation(value=WARN_COMPLAINT_RATE,
                                            label="guard warns (complaints)"),
                    cw.HorizontalAnnotation(value=SES_COMPLAINT_RATE_ALARM,
                                            label="guard pauses (complaints)"),
                ]),
            cw.GraphWidget(title="Sender: retried, throttled, deferred", width=12, left=[
                metric(name, sender) for name in (
                    shape.Metric.RETRIED, shape.Metric.THROTTLED, shape.Metric.DEFERRED)]),
        )
        dashboard.add_widgets(
            cw.GraphWidget(title="Queue depth", width=8, left=[
                queue.metric_approximate_number_of_messages_visible(label=name)
                for name, queue in queues.items()]),
            cw.GraphWidget(title="Oldest message (s)", width=8, left=[
                queue.metric_approximate_age_of_oldest_message(label=name)
                for name, queue in queues.items()],
                right=[metric(shape.Metric.SENDING_PAUSED, events, "Maximum", PAUSE_PERIOD)]),
            cw.GraphWidget(title="Dead letters", width=8, left=[
                dlq.metric_approximate_number_of_messages_visible(label=name)
                for name, (dlq, _) in watched.dead_letter_queues.items()]),
        )
        dashboard.add_widgets(
            cw.GraphWidget(title="Function errors and throttles", width=12, left=[
                series for spec, function in watched.functions.items()
                for series in (function.metric_errors(label=f"{spec.name} errors"),
                               function.metric_throttles(label=f"{spec.name} throttles"))]),
            cw.AlarmStatusWidget(title="Alarms", width=12, alarms=list(self.alarms.values())),
        )
        if shape.CANARY in watched.functions:
            dashboard.add_widgets(cw.GraphWidget(
                title="Canary: round trip latency (s) and result", width=24,
                left=[metric(shape.Metric.CANARY_LATENCY, shape.CANARY, "Average",
                             CANARY_PERIOD)],
                right=[metric(shape.Metric.CANARY_SUCCEEDED, shape.CANARY, "Minimum",
                              CANARY_PERIOD)]))
        return dashboard
