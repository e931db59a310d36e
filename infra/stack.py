"""The Mailroom stack: one construct per concern, wired together (DESIGN §1)."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from mailroom import shape

from .api import Api
from .canary import CanaryCheck
from .config import MailroomConfig
from .encryption import MessagingKey
from .events import SesEvents
from .functions import FunctionFactory
from .monitoring import Monitoring, Watched
from .notifications import Notifications
from .sending import Sending
from .ses import Ses
from .storage import Storage
from .unsubscribe import UnsubscribeKey


class MailroomStack(Stack):
    def __init__(self, scope: Construct, *, cfg: MailroomConfig, **kwargs: object) -> None:
        super().__init__(
            scope,
            cfg.stack_name,
            description="Mailroom: transactional email on Amazon SES",
            **kwargs,  # type: ignore[arg-type]
        )
        self.cfg = cfg
        key = MessagingKey(self, "MessagingKey").key
        # Each construct binds the resources it owns in the factory; functions come after
        # the resources they use (mailroom.shape declares which).
        self.factory = FunctionFactory(self, "Functions", log_retention=cfg.log_retention)
        self.storage = Storage(self, "Storage", factory=self.factory)
        self.notifications = Notifications(self, "Notifications", key=key, factory=self.factory)
        self.events = SesEvents(self, "SesEvents", key=key, factory=self.factory)
        self.ses = Ses(self, "Ses", cfg=cfg, events_topic=self.events.topic, factory=self.factory)
        # The sender first: a pause by the api or events function switches its consumer.
        self.sending = Sending(self, "Sending", cfg=cfg, factory=self.factory)
        self.events.add_function(self.factory, cfg=cfg)
        self.unsubscribe_key = UnsubscribeKey(self, "UnsubscribeKey", factory=self.factory)
        self.api = Api(self, "Api", cfg=cfg, factory=self.factory)
        self.canary = (CanaryCheck(self, "Canary", factory=self.factory,
                                   api_url=self.api.rest_api.url) if cfg.canary else None)
        functions = {shape.API: self.api.function, shape.SENDER: self.sending.function,
                     shape.EVENTS: self.events.function,
                     shape.KEY_ROTATION: self.unsubscribe_key.rotation}
        if self.canary is not None:
            functions[shape.CANARY] = self.canary.function
        self.functions = functions
        self.monitoring = Monitoring(self, "Monitoring", cfg=cfg, key=key, watched=Watched(
            functions=functions,
            send_queue=self.sending.queues.queue,
            events_queue=self.events.queues.queue,
            dead_letter_queues={
                "SendDlq": (self.sending.queues.dlq, SEND_DLQ_ACTION),
                "EventsDlq": (self.events.queues.dlq, EVENTS_DLQ_ACTION),
                "SubscriptionDlq": (self.events.subscription_dlq, SUBSCRIPTION_DLQ_ACTION),
            },
        ))
        self._outputs()

    def _outputs(self) -> None:
        api_key_id = self.api.api_key.key_id
        outputs = {
            "ApiUrl": (self.api.base_url, "Base URL of the HTTP API (routes under /v1)"),
            "ApiKeyId": (api_key_id, "API Gateway API key id (send its value as x-api-key)"),
            "ApiKeyCommand": (
                f"aws apigateway get-api-key --api-key {api_key_id} --include-value "
                f"--query value --output text --region {self.region}",
                "Prints the API key value",
            ),
            "NotificationsTopicArn": (
                self.notifications.topic.topic_arn,
                "Subscribe here for one event per message outcome",
            ),
            "SesEventsTopicArn": (self.events.topic.topic_arn, "Where SES publishes its events"),
            "SendQueueUrl": (self.sending.queues.queue.queue_url, "Send queue"),
            "SendDlqUrl": (self.sending.queues.dlq.queue_url, "Sends that failed every retry"),
            "EventsDlqUrl": (self.events.queues.dlq.queue_url, "SES events that failed"),
            "EventsQueueUrl": (self.events.queues.queue.queue_url, "SES events to apply"),
            "ConfigurationSetName": (
                self.ses.configuration_set.configuration_set_name,
                "SES configuration set",
            ),
            "SenderDomain": (self.cfg.sender_domain, "SES identity (verify its DKIM records)"),
            "MailFromDomain": (self.cfg.mail_from_domain, "SES custom MAIL FROM domain"),
            "DefaultFrom": (self.cfg.from_address, "The default from address"),
            "TemplatePrefix": (self.cfg.template_prefix, "Prefix of this stack's SES templates"),
            "MessagesTableName": (self.storage.messages.table_name, "Messages table"),
            "SuppressionsTableName": (self.storage.suppressions.table_name, "Suppressions"),
            "AlarmTopicArn": (self.monitoring.topic.topic_arn,
                              "Alarms go here: subscribe a person or a pager"),
            "DashboardName": (self.monitoring.dashboard.dashboard_name, "CloudWatch dashboard"),
            "SubscriptionDlqUrl": (self.events.subscription_dlq.queue_url,
                                   "SES events SNS could not deliver to the events queue"),
            **{spec.output_name: (function.function_name, spec.description)
               for spec, function in self.functions.items()},
        }
        if self.cfg.max_send_rate is not None:
            outputs["MaxSendRate"] = (str(self.cfg.max_send_rate),
                                      "The fleet's configured sends per second")
        for name, (record, description) in self.ses.dns_records_to_add().items():
            outputs[name] = (record.line, description)
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)


SEND_DLQ_ACTION = (
    "Mail that failed every retry is in the send dead-letter queue; each message's status "
    "says why (`mailroom status ID`). Fix the cause (SES health, quota, identity), then move "
    "the messages back to the send queue (SQS console: Start DLQ redrive).")
EVENTS_DLQ_ACTION = (
    "SES events the events function could not apply are in the events dead-letter queue; its "
    "log group (mailroom-events) says why for each record. Fix the cause, then redrive them "
    "to the events queue: outcomes are applied once, whatever the order.")
SUBSCRIPTION_DLQ_ACTION = (
    "SNS could not deliver SES events to the events queue (its queue policy or encryption "
    "changed?): outcomes are not being recorded. Fix the delivery, then move the messages "
    "back by hand as the README describes (SQS redrive refuses SNS dead-letter queues).")
