"""SES: the sending identity (Easy DKIM), the configuration set whose events feed Mailroom,
and the email templates compiled from templates/."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from mailroom import shape
from mailroom.ses_events import SUBSCRIBED_KINDS

from .config import MailroomConfig
from .functions import Binding, FunctionFactory, stack_arn

# Every event Mailroom acts on (mailroom.ses_events.EVENT_KINDS says which).
EVENT_TYPES = tuple(ses.EmailSendingEvent[kind.name] for kind in SUBSCRIBED_KINDS)
# What a pause and a resume do to the configuration set: on its ARN alone.
CONFIGURATION_SET_ACTIONS = {"GetConfigurationSet", "PutConfigurationSetSendingOptions"}


class Ses(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: MailroomConfig,
        events_topic: sns.ITopic,
        factory: FunctionFactory,
    ) -> None:
        super().__init__(scope, construct_id)
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            reputation_metrics=True,  # bounce/complaint rates per configuration set in CloudWatch
            # Sending is left unset (SES enables it): a pause disables it, and an update that
            # named it would turn it back on.
            # Password resets and sign-in links must not cross the internet in clear text:
            # SES delivers only over TLS (a server without it shows up as a bounce).
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
        )
        # CDK also adds the topic policy that lets SES publish (scoped to this account and
        # configuration set); the topic's KMS key policy allows SES in encryption.py.
        self.configuration_set.add_event_destination(
            "ToSesEventsTopic",
            destination=ses.EventDestination.sns_topic(events_topic),
            events=list(EVENT_TYPES),
        )

        identity, subdomain_zone = self._identity(cfg)
        self.identity = ses.EmailIdentity(
            self,
            "Identity",
            identity=identity,
            # Sends that forget the configuration set are still tracked.
            configuration_set=self.configuration_set,
        )
        if subdomain_zone is not None:
            self._add_dkim_records(subdomain_zone)
        self.templates = self._templates(cfg.template_prefix, cfg.templates)
        factory.bind(shape.SES, Binding(
            identifier=self.configuration_set.configuration_set_name,
            statements=lambda access: self._statements(cfg, access),
        ))

    def _statements(self, cfg: MailroomConfig, access: shape.Access) -> list[iam.PolicyStatement]:
        # SES authorises SendEmail against every identity involved: the sender's, and in the
        # sandbox each verified recipient's too, so the identity ARN cannot be pinned to
        # the domain. What is pinned instead is who may appear as From (ses:FromAddress),
        # the configuration set, and this stack's templates.
        statements = []
        if "SendEmail" in access.actions:
            from_patterns = sorted(
                sender if "@" in sender else f"*@{sender}" for sender in cfg.allowed_senders
            )
            statements.append(iam.PolicyStatement(
                actions=["ses:SendEmail"],
                resources=[
                    stack_arn("ses", "identity/*"),
                    stack_arn("ses", "configuration-set/"
                              f"{self.configuration_set.configuration_set_name}"),
                    stack_arn("ses", f"template/{cfg.template_prefix}*"),
                ],
                conditions={"StringLike": {"ses:FromAddress": from_patterns}},
            ))
        on_set = [action for action in access.actions if action in CONFIGURATION_SET_ACTIONS]
        if on_set:
            statements.append(iam.PolicyStatement(
                actions=[f"ses:{action}" for action in on_set],
                resources=[stack_arn("ses", "configuration-set/"
                                     f"{self.configuration_set.configuration_set_name}")]))
        # Account-level reads (GetAccount: the send quota that paces the fleet) have no
        # resource.
        others = [action for action in access.actions
                  if action != "SendEmail" and action not in CONFIGURATION_SET_ACTIONS]
        if others:
            statements.append(iam.PolicyStatement(
                actions=[f"ses:{action}" for action in others], resources=["*"]))
        return statements

    def _identity(
        self, cfg: MailroomConfig
    ) -> tuple[ses.Identity, route53.IPublicHostedZone | None]:
        """A domain identity with Easy DKIM. With a hosted zone, its DKIM CNAMEs go into
        Route 53; without one, the user adds the three records the SES console shows."""
        if not (cfg.hosted_zone_id and cfg.hosted_zone_name):
            return ses.Identity.domain(cfg.sender_domain), None
        zone_name = cfg.hosted_zone_name.rstrip(".").lower()
        zone = route53.PublicHostedZone.from_public_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=cfg.hosted_zone_id, zone_name=zone_name
        )
        if cfg.sender_domain == zone_name:
            return ses.Identity.public_hosted_zone(zone), None  # CDK writes the records
        if not cfg.sender_domain.endswith(f".{zone_name}"):
            raise ValueError(f"sender_domain {cfg.sender_domain} is not in zone {zone_name}")
        return ses.Identity.domain(cfg.sender_domain), zone

    def _add_dkim_records(self, zone: route53.IPublicHostedZone) -> None:
        """For a subdomain of the zone: the same three CNAMEs CDK writes for a zone's apex."""
        identity = self.identity
        tokens = (
            (identity.dkim_dns_token_name1, identity.dkim_dns_token_value1),
            (identity.dkim_dns_token_name2, identity.dkim_dns_token_value2),
            (identity.dkim_dns_token_name3, identity.dkim_dns_token_value3),
        )
        for n, (name, value) in enumerate(tokens, start=1):
            route53.CfnRecordSet(
                self,
                f"DkimDnsToken{n}",
                hosted_zone_id=zone.hosted_zone_id,
                name=name,
                type="CNAME",
                resource_records=[value],
                ttl="1800",
            )

    def _templates(
        self, prefix: str, templates: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, ses.CfnTemplate]:
        """One SES template per compiled template, named `<prefix><name>` (SES template names
        are per account and region, so the stack name keeps two stacks apart)."""
        return {
            name: ses.CfnTemplate(
                self,
                f"Template-{name}",
                template=ses.CfnTemplate.TemplateProperty(
                    template_name=f"{prefix}{name}",
                    subject_part=body["subject"],
                    html_part=body.get("html"),
                    text_part=body.get("text"),
                ),
            )
            for name, body in sorted(templates.items())
        }
