"""SES: the sending identity (Easy DKIM, a custom MAIL FROM domain), the configuration set
whose events feed Mailroom, and the email templates compiled from templates/.

Sender authentication (mailroom.sender_auth): with a Route 53 zone the DKIM, MAIL FROM MX and
SPF records go into it (DMARC too when asked for); without one, `dns_records_to_add` lists
each record for the stack's outputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from mailroom import sender_auth, shape
from mailroom.sender_auth import DnsRecord
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

        identity, self.zone, cdk_writes_records = self._identity(cfg)
        self.identity = ses.EmailIdentity(
            self,
            "Identity",
            identity=identity,
            # Sends that forget the configuration set are still tracked.
            configuration_set=self.configuration_set,
            # Bounces return to <mail_from_domain>, so SPF passes for the From's domain and
            # aligns for DMARC. Until its MX resolves SES uses its own MAIL FROM rather than
            # refusing to send.
            mail_from_domain=cfg.mail_from_domain,
            mail_from_behavior_on_mx_failure=ses.MailFromBehaviorOnMxFailure.USE_DEFAULT_VALUE,
        )
        region = Stack.of(self).region
        self.mail_from_records = (
            DnsRecord(cfg.mail_from_domain, "MX", sender_auth.mail_from_mx_value(region)),
            DnsRecord(cfg.mail_from_domain, "TXT", sender_auth.MAIL_FROM_SPF),
        )
        self.dmarc_record = DnsRecord(
            sender_auth.dmarc_name(cfg.sender_domain), "TXT", cfg.dmarc_record_value)
        self.creates_dmarc = self.zone is not None and cfg.dmarc_policy is not None
        if self.zone is not None and not cdk_writes_records:
            self._add_dkim_records(self.zone)
            self._add_mail_from_records(self.zone, region)
        if self.creates_dmarc:
            assert self.zone is not None
            route53.TxtRecord(
                self, "DmarcRecord", zone=self.zone, record_name=self.dmarc_record.name,
                values=[self.dmarc_record.value],
                ttl=Duration.seconds(sender_auth.RECORD_TTL_SECONDS),
            )
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

    def dns_records_to_add(self) -> dict[str, tuple[DnsRecord, str]]:
        """Records the stack does not write itself, by output name, with a description: with
        no zone, DKIM and MAIL FROM; and DMARC unless the stack creates it (recommended)."""
        to_add = "record to add to DNS (name, type, value)"
        records: dict[str, tuple[DnsRecord, str]] = {}
        if self.zone is None:
            for n, (name, value) in enumerate(self._dkim_tokens(), start=1):
                records[f"DnsDkim{n}"] = (DnsRecord(name, "CNAME", value), f"DKIM {to_add}")
            mx, spf = self.mail_from_records
            records["DnsMailFromMx"] = (mx, f"MAIL FROM MX {to_add}")
            records["DnsMailFromSpf"] = (spf, f"MAIL FROM SPF {to_add}")
        if not self.creates_dmarc:
            records["DnsDmarc"] = (self.dmarc_record, f"Recommended DMARC {to_add}, unless "
                                   "the domain has one already")
        return records

    def _identity(
        self, cfg: MailroomConfig
    ) -> tuple[ses.Identity, route53.IPublicHostedZone | None, bool]:
        """A domain identity with Easy DKIM, its hosted zone if any, and whether CDK writes
        its DKIM and MAIL FROM records itself (it does for an identity at the zone's apex).
        Without a zone, the user adds the records the stack outputs list."""
        if not (cfg.hosted_zone_id and cfg.hosted_zone_name):
            return ses.Identity.domain(cfg.sender_domain), None, False
        zone_name = cfg.hosted_zone_name.rstrip(".").lower()
        zone = route53.PublicHostedZone.from_public_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=cfg.hosted_zone_id, zone_name=zone_name
        )
        if cfg.sender_domain == zone_name:
            return ses.Identity.public_hosted_zone(zone), zone, True
        if not cfg.sender_domain.endswith(f".{zone_name}"):
            raise ValueError(f"sender_domain {cfg.sender_domain} is not in zone {zone_name}")
        return ses.Identity.domain(cfg.sender_domain), zone, False

    def _dkim_tokens(self) -> tuple[tuple[str, str], ...]:
        identity = self.identity
        return (
            (identity.dkim_dns_token_name1, identity.dkim_dns_token_value1),
            (identity.dkim_dns_token_name2, identity.dkim_dns_token_value2),
            (identity.dkim_dns_token_name3, identity.dkim_dns_token_value3),
        )

    def _add_dkim_records(self, zone: route53.IPublicHostedZone) -> None:
        """For a subdomain of the zone: the same three CNAMEs CDK writes for a zone's apex."""
        for n, (name, value) in enumerate(self._dkim_tokens(), start=1):
            route53.CfnRecordSet(
                self,
                f"DkimDnsToken{n}",
                hosted_zone_id=zone.hosted_zone_id,
                name=name,
                type="CNAME",
                resource_records=[value],
                ttl=str(sender_auth.RECORD_TTL_SECONDS),
            )

    def _add_mail_from_records(self, zone: route53.IPublicHostedZone, region: str) -> None:
        """For a subdomain of the zone: the MAIL FROM MX and SPF CDK writes for an apex."""
        ttl = Duration.seconds(sender_auth.RECORD_TTL_SECONDS)
        mx, spf = self.mail_from_records
        route53.MxRecord(self, "MailFromMxRecord", zone=zone, record_name=mx.name, ttl=ttl,
                         values=[route53.MxRecordValue(
                             priority=sender_auth.MAIL_FROM_MX_PRIORITY,
                             host_name=sender_auth.mail_from_mx_host(region))])
        route53.TxtRecord(self, "MailFromSpfRecord", zone=zone, record_name=spf.name,
                          values=[spf.value], ttl=ttl)

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
