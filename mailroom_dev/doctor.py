"""`mailroom doctor`: "why is my mail not arriving?" answered by checks, each one pass, warn,
fail or skip, with what it means and the fix, in plain words (DESIGN §3, `doctor --json`).

Every check is a small function over injected clients (boto3 SES v2, SQS, SNS, CloudWatch), a
DNS resolver and the Mailroom API, so tests drive each branch with botocore's Stubber and a
fake resolver. AWS calls are read-only. Against the local stack, checks that mean nothing
there (DNS, CloudWatch, SES's account-level suppression list) are skipped and say why."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from enum import StrEnum
from functools import cache
from typing import Any, Protocol

from mailroom import sender_auth, shape
from mailroom.ses_events import SUBSCRIBED_KINDS


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status.value, "detail": self.detail,
                "fix": self.fix}


def passed(name: str, detail: str) -> Check:
    return Check(name, Status.PASS, detail)


def warned(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.WARN, detail, fix)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.FAIL, detail, fix)


def skipped(name: str, why: str) -> Check:
    return Check(name, Status.SKIP, why)


def report(checks: Iterable[Check]) -> dict[str, list[dict[str, str]]]:
    """The `--json` document."""
    return {"checks": [check.to_json() for check in checks]}


def any_failed(checks: Iterable[Check]) -> bool:
    return any(check.status is Status.FAIL for check in checks)


# --- what is checked, and with what ----------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """The names doctor needs, from a stack's outputs or the local stack's local.json."""

    local: bool
    region: str
    sender_domain: str
    default_from: str
    configuration_set: str
    template_prefix: str
    ses_events_topic_arn: str
    send_queue_url: str
    send_dlq_url: str
    events_dlq_url: str
    mail_from_domain: str | None = None
    max_send_rate: float | None = None  # the stack's configured fleet rate, if any
    subscription_dlq_url: str | None = None  # what SNS could not deliver to the events queue

    @classmethod
    def from_stack_outputs(cls, outputs: dict[str, str], region: str) -> Deployment:
        sender_domain = outputs["SenderDomain"]
        rate = outputs.get("MaxSendRate")
        return cls(
            local=False, region=region, sender_domain=sender_domain,
            default_from=outputs.get("DefaultFrom") or f"no-reply@{sender_domain}",
            configuration_set=outputs["ConfigurationSetName"],
            template_prefix=outputs["TemplatePrefix"],
            ses_events_topic_arn=outputs["SesEventsTopicArn"],
            send_queue_url=outputs["SendQueueUrl"], send_dlq_url=outputs["SendDlqUrl"],
            events_dlq_url=outputs["EventsDlqUrl"],
            mail_from_domain=outputs.get("MailFromDomain"),
            max_send_rate=float(rate) if rate else None,
            subscription_dlq_url=outputs.get("SubscriptionDlqUrl"),
        )

    @classmethod
    def from_local_state(cls, local: dict[str, Any]) -> Deployment:
        from mailroom_dev.local import resources

        default_from = resources.DEFAULT_FROM
        return cls(
            local=True, region=local["region"],
            sender_domain=_domain_of(default_from), default_from=default_from,
            configuration_set=local["configuration_set"],
            template_prefix=local["template_prefix"],
            ses_events_topic_arn=local["ses_events_topic_arn"],
            send_queue_url=local["send_queue_url"], send_dlq_url=local["send_dlq_url"],
            events_dlq_url=local["events_dlq_url"],
            subscription_dlq_url=local.get("subscription_dlq_url"),
        )


class DnsLookupError(Exception):
    """The look-up itself failed (timeout, server failure): the answer is unknown."""


class Resolver(Protocol):
    def lookup(self, name: str, rdtype: str) -> list[str]:
        """The records of `rdtype` at `name` as text (TXT strings joined and unquoted, MX as
        "priority host", names without the trailing dot); [] when there are none. Raises
        `DnsLookupError` when the answer cannot be had."""
        ...


class DnsPythonResolver:
    """The system's resolver, through dnspython."""

    def __init__(self, lifetime: float = 5.0) -> None:
        import dns.resolver

        self._resolver = dns.resolver.Resolver()
        self._resolver.lifetime = lifetime

    def lookup(self, name: str, rdtype: str) -> list[str]:
        import dns.exception
        import dns.resolver

        try:
            answer = self._resolver.resolve(name, rdtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as error:
            raise DnsLookupError(f"{name} {rdtype}: {error}") from error
        if rdtype == "TXT":
            return [b"".join(r.strings).decode(errors="replace") for r in answer]
        if rdtype == "MX":
            return [f"{r.preference} {str(r.exchange).rstrip('.')}" for r in answer]
        return [r.to_text().rstrip(".") for r in answer]


@dataclass(frozen=True)
class Doctor:
    """The clients checks use; `cloudwatch` and `resolver` are None against the local stack.
    `api` GETs a Mailroom API path and returns its JSON."""

    deployment: Deployment
    sesv2: Any
    sqs: Any
    sns: Any
    api: Callable[[str], Any]
    cloudwatch: Any = None
    resolver: Resolver | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def run(self) -> list[Check]:
        checks: list[Check] = []
        for group in (account_checks, identity_checks, pipeline_checks, content_checks,
                      reputation_checks):
            try:
                checks += group(self)
            except Exception as error:  # an answer we did not expect: say so, check the rest
                name = group.__name__.removesuffix("_checks")
                checks.append(failed(name, f"The {name} checks could not finish: "
                                           f"{type(error).__name__}: {error}",
                                     "Run with --json and report it; the other checks stand."))
        return checks


# --- account -----------------------------------------------------------------------------------

# Of the 24-hour quota: past this share, new mail may soon wait for the window to move.
QUOTA_WARN_SHARE = 0.8
SUPPRESSED_REASONS = ("BOUNCE", "COMPLAINT")


def account_checks(doctor: Doctor) -> list[Check]:
    try:
        account = doctor.sesv2.get_account()
    except Exception as error:
        return [failed("account", f"Could not read the SES account: {_error_text(error)}",
                       _read_access_fix("ses:GetAccount"))]
    deployment = doctor.deployment
    return [
        _production_access(account),
        _sending_enabled(account),
        _enforcement(account),
        _quota(account.get("SendQuota") or {}),
        _send_rate(account.get("SendQuota") or {}, deployment.max_send_rate),
        _account_suppression(account),
    ]


def _production_access(account: dict[str, Any]) -> Check:
    name = "account.production_access"
    if account.get("ProductionAccessEnabled"):
        return passed(name, "The account has production access: it can send to anyone.")
    return warned(
        name,
        "The account is in the SES sandbox: it sends only to verified addresses and domains "
        "(and the mailbox simulator), at most 200 messages a day; mail to anyone else is "
        "rejected.",
        "Request production access in the SES console (Account dashboard → Request "
        "production access) or with `aws sesv2 put-account-details --production-access-enabled "
        "...`.")


def _sending_enabled(account: dict[str, Any]) -> Check:
    name = "account.sending_enabled"
    if account.get("SendingEnabled", True):
        return passed(name, "SES sending is enabled for the account.")
    return failed(
        name, "SES sending is disabled for the whole account: no mail goes out.",
        "If SES paused it, the AWS Health dashboard and SES's email say why; after fixing "
        "the cause, `aws sesv2 put-account-sending-attributes --sending-enabled`.")


def _enforcement(account: dict[str, Any]) -> Check:
    name = "account.enforcement"
    status = account.get("EnforcementStatus") or "HEALTHY"
    if status == "HEALTHY":
        return passed(name, "SES enforcement status: HEALTHY.")
    if status == "PROBATION":
        return warned(
            name, "SES has put the account on probation (review): bounce or complaint rates "
            "were too high. If they stay high, SES stops the account's sending.",
            "Check `mailroom reputation`, suppress what bounces and complains, and answer "
            "SES's review in the console's Reputation metrics page.")
    return failed(
        name, f"SES enforcement status: {status}. The account cannot send.",
        "Contact AWS Support through the SES console's Reputation metrics page.")


def _quota(quota: dict[str, Any]) -> Check:
    name = "account.quota"
    sent = float(quota.get("SentLast24Hours") or 0)
    limit = float(quota.get("Max24HourSend") or 0)
    if limit <= 0:  # SES reports -1 for no limit
        return passed(name, f"{sent:.0f} sent in the last 24 h; no daily limit.")
    share = sent / limit
    detail = f"{sent:.0f} of {limit:.0f} sent in the last 24 h ({share:.0%})."
    fix = ("Mail waits (it is not lost) until the window moves; ask for a higher quota in "
           "the Service Quotas console (Amazon SES: Sending quota).")
    if share >= 1:
        return failed(name, detail + " The daily quota is used up: new mail waits.", fix)
    if share >= QUOTA_WARN_SHARE:
        return warned(name, detail + " The daily quota is nearly used up.", fix)
    return passed(name, detail)


def _send_rate(quota: dict[str, Any], configured: float | None) -> Check:
    name = "account.send_rate"
    limit = float(quota.get("MaxSendRate") or 0)
    if configured is None:
        return passed(name, f"SES allows {limit:g} messages/s; the sender reads it and "
                            "paces itself below it.")
    if configured > limit:
        return failed(
            name, f"The stack sends at {configured:g}/s (max_send_rate) but SES allows "
            f"{limit:g}/s: sends beyond it are throttled and retried.",
            f"Deploy with `-c max_send_rate={limit:g}` (or leave it unset to follow SES), or "
            "ask for a higher rate in the Service Quotas console.")
    return passed(name, f"The stack sends at {configured:g}/s; SES allows {limit:g}/s.")


def _account_suppression(account: dict[str, Any]) -> Check:
    name = "account.suppression_list"
    reasons = set((account.get("SuppressionAttributes") or {}).get("SuppressedReasons") or [])
    missing = [reason for reason in SUPPRESSED_REASONS if reason not in reasons]
    if not missing:
        return passed(name, "SES's account-level suppression list keeps bounces and "
                            "complaints (Mailroom's list also applies).")
    return warned(
        name, f"SES's account-level suppression list ignores {', '.join(missing).lower()}s: "
        "addresses outside Mailroom that bounce or complain stay mailable for other senders "
        "of this account, and count against its reputation.",
        "aws sesv2 put-account-suppression-attributes --suppressed-reasons BOUNCE COMPLAINT")


# --- identity ------------------------------------------------------------------------------


def identity_checks(doctor: Doctor) -> list[Check]:
    deployment = doctor.deployment
    if deployment.local:
        return [skipped("identity", "The local SES simulator has no identities and sends "
                        "nothing to the internet, so verification, DKIM, MAIL FROM, DMARC and "
                        "From alignment mean nothing here.")]
    domain = deployment.sender_domain
    try:
        identity = doctor.sesv2.get_email_identity(EmailIdentity=domain)
    except Exception as error:
        if _error_code(error) == "NotFoundException":
            return [failed("identity.verified", f"{domain} is not an SES identity in "
                           f"{deployment.region}: SES refuses mail from it.",
                           "Deploy the stack (it creates the identity) in this region.")]
        return [failed("identity.verified", f"Could not read identity {domain}: "
                       f"{_error_text(error)}", _read_access_fix("ses:GetEmailIdentity"))]
    resolver = doctor.resolver
    dkim = identity.get("DkimAttributes") or {}
    mail_from = identity.get("MailFromAttributes") or {}
    checks = [_verified(domain, identity), _dkim_status(domain, dkim)]
    checks.append(_dkim_dns(domain, dkim, resolver) if resolver else
                  skipped("identity.dkim_dns", "No DNS resolver."))
    checks.append(_mail_from_status(domain, mail_from))
    mail_from_domain = mail_from.get("MailFromDomain") or deployment.mail_from_domain
    checks.append(_mail_from_dns(mail_from_domain, deployment.region, resolver))
    dmarc = _find_dmarc(domain, resolver) if resolver else None
    checks.append(_dmarc_check(domain, dmarc) if resolver else
                  skipped("identity.dmarc", "No DNS resolver."))
    checks.append(_alignment(deployment.default_from, domain, mail_from_domain, dmarc))
    return checks


def _verified(domain: str, identity: dict[str, Any]) -> Check:
    name = "identity.verified"
    if identity.get("VerifiedForSendingStatus"):
        return passed(name, f"{domain} is verified for sending.")
    status = identity.get("VerificationStatus", "NOT_STARTED")
    return failed(
        name, f"{domain} is not verified for sending ({status}): SES refuses mail from it.",
        "Publish its DKIM CNAME records (the stack's DnsDkim outputs, or a hosted zone); SES "
        "verifies the domain within hours of seeing them.")


def _dkim_status(domain: str, dkim: dict[str, Any]) -> Check:
    name = "identity.dkim"
    if dkim.get("SigningEnabled") is False:
        return failed(name, f"DKIM signing is off for {domain}: receivers cannot tell the "
                            "mail is yours, and DMARC can only pass through SPF.",
                      f"aws sesv2 put-email-identity-dkim-attributes --email-identity {domain} "
                      "--signing-enabled")
    status = dkim.get("Status", "NOT_STARTED")
    if status == "SUCCESS":
        return passed(name, f"DKIM for {domain}: SUCCESS, mail is signed.")
    fix = ("Publish the three DKIM CNAME records (see identity.dkim_dns); SES looks for them "
           "for 72 hours.")
    if status == "PENDING":
        return warned(name, f"DKIM for {domain}: PENDING, SES has not found its records yet.",
                      fix)
    return failed(name, f"DKIM for {domain}: {status}, mail is not DKIM-signed for it.", fix)


def _dkim_dns(domain: str, dkim: dict[str, Any], resolver: Resolver) -> Check:
    name = "identity.dkim_dns"
    tokens = dkim.get("Tokens") or []
    if not tokens:
        return skipped(name, "SES gave no DKIM tokens (Easy DKIM not set up).")
    zone = dkim.get("SigningHostedZone") or sender_auth.DKIM_SIGNING_ZONE
    wrong: list[str] = []
    for token in tokens:
        record = sender_auth.dkim_record(domain, token, zone)
        try:
            found = resolver.lookup(record.name, "CNAME")
        except DnsLookupError as error:
            return warned(name, f"Could not look up the DKIM records: {error}.",
                          "Try again; check the resolver or network.")
        if [value.lower() for value in found] != [record.value.lower()]:
            wrong.append(record.line)
    if not wrong:
        return passed(name, f"All {len(tokens)} DKIM CNAMEs resolve to SES.")
    return failed(name, f"{len(wrong)} of {len(tokens)} DKIM CNAMEs do not resolve to SES.",
                  "Add: " + "; ".join(wrong))


def _mail_from_status(domain: str, mail_from: dict[str, Any]) -> Check:
    name = "identity.mail_from"
    mail_from_domain = mail_from.get("MailFromDomain")
    if not mail_from_domain:
        return warned(
            name, f"{domain} has no custom MAIL FROM domain: the envelope sender is "
            "amazonses.com, so SPF does not align with your From and DMARC rests on DKIM "
            "alone.", "Deploy the stack again: it sets up bounce.<sender_domain> "
            "(-c mail_from_subdomain=...).")
    status = mail_from.get("MailFromDomainStatus", "PENDING")
    if status == "SUCCESS":
        return passed(name, f"MAIL FROM {mail_from_domain}: SUCCESS, SPF aligns with From.")
    fix = ("Publish its MX and SPF records (see identity.mail_from_dns; without a hosted zone "
           "the stack's DnsMailFromMx and DnsMailFromSpf outputs).")
    if status == "PENDING":
        return warned(name, f"MAIL FROM {mail_from_domain}: PENDING, SES has not found its MX "
                            "record yet; meanwhile mail goes out with SES's own MAIL FROM.", fix)
    if mail_from.get("BehaviorOnMxFailure") == "REJECT_MESSAGE":
        return failed(name, f"MAIL FROM {mail_from_domain}: {status}, and the identity rejects "
                            "mail when the MX is missing: nothing goes out.", fix)
    return warned(name, f"MAIL FROM {mail_from_domain}: {status}; mail goes out with SES's "
                        "own MAIL FROM, so SPF does not align with From.", fix)


def _mail_from_dns(mail_from_domain: str | None, region: str,
                   resolver: Resolver | None) -> Check:
    name = "identity.mail_from_dns"
    if not mail_from_domain:
        return skipped(name, "No custom MAIL FROM domain to look up.")
    if resolver is None:
        return skipped(name, "No DNS resolver.")
    expected_mx = sender_auth.mail_from_mx_host(region)
    try:
        mx = resolver.lookup(mail_from_domain, "MX")
        txt = resolver.lookup(mail_from_domain, "TXT")
    except DnsLookupError as error:
        return warned(name, f"Could not look up {mail_from_domain}: {error}.",
                      "Try again; check the resolver or network.")
    problems, add = [], []
    if not any(value.split()[-1].lower() == expected_mx for value in mx):
        problems.append(f"no MX to {expected_mx}" + (f" (found {', '.join(mx)})" if mx else ""))
        add.append(f"{mail_from_domain} MX {sender_auth.mail_from_mx_value(region)}")
    spf = [value for value in txt if value.lower().startswith("v=spf1")]
    if not any(f"include:{sender_auth.SPF_INCLUDE}" in value.lower() for value in spf):
        problems.append("no SPF record including amazonses.com"
                        + (f" (found {spf[0]!r})" if spf else ""))
        add.append(f'{mail_from_domain} TXT "{sender_auth.MAIL_FROM_SPF}"')
    if not problems:
        return passed(name, f"{mail_from_domain} has its MX to SES and an SPF record "
                            "including amazonses.com.")
    return warned(name, f"{mail_from_domain}: {'; '.join(problems)}. Bounces cannot come back "
                        "through it and SPF does not align.", "Add: " + "; ".join(add))


@dataclass(frozen=True)
class Dmarc:
    """A DMARC record found at `at` (the sender domain's or its organisational domain's)."""

    at: str
    record: str
    inherited: bool

    @property
    def tags(self) -> dict[str, str]:
        pairs = (part.split("=", 1) for part in self.record.split(";") if "=" in part)
        return {key.strip().lower(): value.strip() for key, value in pairs}

    @property
    def policy(self) -> str | None:
        """The policy for the sender domain: a subdomain inheriting from its organisational
        domain gets `sp=` when set."""
        tags = self.tags
        return (tags.get("sp") if self.inherited else None) or tags.get("p")


def _find_dmarc(domain: str, resolver: Resolver) -> Dmarc | DnsLookupError | None:
    """RFC 7489 §6.6.3: the record at _dmarc.<domain>, else at the organisational domain's
    (from the public-suffix list shipped with publicsuffixlist; nothing is fetched)."""
    candidates = [domain]
    organisational = organisational_domain(domain)
    if organisational and organisational != domain:
        candidates.append(organisational)
    for at in candidates:
        try:
            found = resolver.lookup(sender_auth.dmarc_name(at), "TXT")
        except DnsLookupError as error:
            return error
        records = [value for value in found if value.lower().startswith("v=dmarc1")]
        if records:
            return Dmarc(at=at, record=records[0], inherited=at != domain)
    return None


def _dmarc_check(domain: str, dmarc: Dmarc | DnsLookupError | None) -> Check:
    name = "identity.dmarc"
    recommended = sender_auth.DnsRecord(
        sender_auth.dmarc_name(domain), "TXT",
        sender_auth.dmarc_value(sender_auth.RECOMMENDED_DMARC_POLICY)).line
    if isinstance(dmarc, DnsLookupError):
        return warned(name, f"Could not look up DMARC: {dmarc}.",
                      "Try again; check the resolver or network.")
    if dmarc is None:
        return warned(
            name, f"No DMARC record for {domain} or its organisational domain: large mailbox "
            "providers (Gmail, Yahoo) expect one and may junk or refuse the mail.",
            f"Add {recommended} (or deploy with -c dmarc_policy=none and a hosted zone).")
    where = (f"at {dmarc.at} (organisational domain)" if dmarc.inherited else f"at {dmarc.at}")
    policy = dmarc.policy
    if policy not in sender_auth.DMARC_POLICIES:
        return warned(name, f"The DMARC record {where} has no valid policy: {dmarc.record!r}.",
                      f"Replace it with {recommended}.")
    meaning = {"none": "receivers report but deliver unaligned mail",
               "quarantine": "receivers junk unaligned mail",
               "reject": "receivers refuse unaligned mail"}[policy]
    return passed(name, f"DMARC {where}: p={policy} ({meaning}).")


def _alignment(default_from: str, domain: str, mail_from_domain: str | None,
               dmarc: Dmarc | DnsLookupError | None) -> Check:
    """DMARC passes when DKIM's d= (the identity) or SPF's MAIL FROM domain aligns with the
    From domain: the same organisational domain (relaxed) or the same domain (strict)."""
    name = "identity.alignment"
    from_domain = _domain_of(default_from)
    if not (from_domain == domain or from_domain.endswith(f".{domain}")):
        return failed(name, f"The default from ({default_from}) is not at {domain} or a "
                            "subdomain of it: SES refuses to send it with this identity.",
                      f"Deploy with -c from_address=someone@{domain}.")
    tags = dmarc.tags if isinstance(dmarc, Dmarc) else {}
    dkim_aligned = _aligned(from_domain, domain, strict=tags.get("adkim") == "s")
    spf_aligned = bool(mail_from_domain) and _aligned(
        from_domain, mail_from_domain or "", strict=tags.get("aspf") == "s")
    if dkim_aligned:
        spf = "and SPF (MAIL FROM)" if spf_aligned else "(SPF does not: no aligned MAIL FROM)"
        return passed(name, f"From {from_domain} aligns with DKIM ({domain}) {spf}.")
    if spf_aligned:
        return warned(name, f"From {from_domain} aligns with SPF only: DKIM signs for {domain} "
                            "and the DMARC record asks for strict DKIM alignment.",
                      f"Send from an address at {domain}, or relax adkim in the DMARC record.")
    return failed(name, f"From {from_domain} aligns with neither DKIM ({domain}) nor SPF "
                        f"({mail_from_domain}) under its DMARC record: DMARC fails.",
                  f"Send from an address at {domain}, or relax adkim/aspf in the DMARC record.")


def _aligned(a: str, b: str, *, strict: bool) -> bool:
    if strict:
        return a == b
    return organisational_domain(a) == organisational_domain(b)


@cache
def _public_suffixes() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(only_icann=True)  # the list in the package: no network


def organisational_domain(domain: str) -> str | None:
    """example.co.uk for mail.example.co.uk; None for a public suffix itself."""
    organisational: str | None = _public_suffixes().privatesuffix(domain.lower())
    return organisational


# --- pipeline ------------------------------------------------------------------------------

# The send path takes seconds; a message this old means the sender is not keeping up.
QUEUE_AGE_WARN_SECONDS = 5 * 60
QUEUE_AGE_FAIL_SECONDS = 60 * 60


def pipeline_checks(doctor: Doctor) -> list[Check]:
    deployment = doctor.deployment
    sending = _sending_state(doctor)
    checks = [
        _configuration_set(doctor, sending),
        _event_destination(doctor),
        _subscription(doctor),
        _dlq(doctor, "pipeline.send_dlq", deployment.send_dlq_url, "send",
             "mail that failed every attempt (each is recorded `failed`, "
             "`retries_exhausted`)"),
        _dlq(doctor, "pipeline.events_dlq", deployment.events_dlq_url, "events",
             "SES events the events function could not apply (timelines and suppressions "
             "behind)",
             after="fix the cause, then `mailroom dlq redrive events`; records it calls "
                   "malformed will never apply: `mailroom dlq delete events --malformed`."),
        _subscription_dlq(doctor),
        _send_queue_age(doctor, sending),
        _sending_check(sending),
        _canary(doctor),
    ]
    return checks


def _sending_state(doctor: Doctor) -> dict[str, Any] | Exception:
    try:
        state = doctor.api("/v1/sending")
    except Exception as error:
        return error
    return state if isinstance(state, dict) else ValueError(f"unexpected answer {state!r}")


def _is_paused(sending: dict[str, Any] | Exception) -> bool:
    return isinstance(sending, dict) and (
        sending.get("paused") is True or sending.get("sending") == "paused")


def _sending_check(sending: dict[str, Any] | Exception) -> Check:
    name = "pipeline.sending"
    if isinstance(sending, Exception):
        return failed(name, f"Could not ask the API whether sending is paused: {sending}",
                      "Check the API is up: `mailroom sending status`.")
    if not _is_paused(sending):
        return passed(name, "Sending is enabled.")
    who = sending.get("source") or "unknown"
    if sending.get("by"):
        who += f", {sending['by']}"
    return warned(
        name, f"Sending is paused since {sending.get('since')} ({who}): "
        f"{sending.get('reason') or 'no reason given'}. Mail waits in the send queue.",
        "Fix the cause, then `mailroom sending resume --reason '...'`.")


def _configuration_set(doctor: Doctor, sending: dict[str, Any] | Exception) -> Check:
    name = "pipeline.configuration_set"
    config_set = doctor.deployment.configuration_set
    try:
        described = doctor.sesv2.get_configuration_set(ConfigurationSetName=config_set)
    except Exception as error:
        if _error_code(error) == "NotFoundException":
            return failed(name, f"The configuration set {config_set} does not exist: every "
                                "send fails.", "Deploy the stack again.")
        return failed(name, f"Could not read configuration set {config_set}: "
                            f"{_error_text(error)}",
                      _read_access_fix("ses:GetConfigurationSet"))
    if (described.get("SendingOptions") or {}).get("SendingEnabled", True):
        return passed(name, f"Configuration set {config_set}: sending enabled.")
    if _is_paused(sending):
        return warned(name, f"Configuration set {config_set}: sending disabled while Mailroom "
                            "is paused.", "`mailroom sending resume` re-enables it.")
    return failed(name, f"Configuration set {config_set}: sending disabled, though Mailroom is "
                        "not paused: SES refuses every send (the messages wait).",
                  f"aws sesv2 put-configuration-set-sending-options --configuration-set-name "
                  f"{config_set} --sending-enabled")


def _event_destination(doctor: Doctor) -> Check:
    name = "pipeline.event_destination"
    deployment = doctor.deployment
    needed = {kind.name for kind in SUBSCRIBED_KINDS}  # SES v2 spells them SEND, BOUNCE, ...
    try:
        destinations = doctor.sesv2.get_configuration_set_event_destinations(
            ConfigurationSetName=deployment.configuration_set)["EventDestinations"]
    except Exception as error:
        return failed(name, f"Could not read the event destinations: {_error_text(error)}",
                      _read_access_fix("ses:GetConfigurationSetEventDestinations"))
    ours = [d for d in destinations
            if (d.get("SnsDestination") or {}).get("TopicArn") == deployment.ses_events_topic_arn]
    fix = "Deploy the stack again: it declares the destination and its event types."
    if not ours:
        return failed(name, "No event destination publishes to the ses-events topic: Mailroom "
                            "hears of no delivery, bounce or complaint.", fix)
    destination = ours[0]
    if not destination.get("Enabled"):
        return failed(name, f"The event destination {destination.get('Name')} is disabled: "
                            "Mailroom hears of no outcome.", fix)
    missing = sorted(needed - set(destination.get("MatchingEventTypes") or []))
    if missing:
        return failed(name, f"The event destination leaves out {', '.join(missing)}: those "
                            "outcomes never reach Mailroom.", fix)
    return passed(name, f"The event destination sends all {len(needed)} event types Mailroom "
                        "acts on to the ses-events topic.")


def _subscription(doctor: Doctor) -> Check:
    name = "pipeline.subscription"
    topic = doctor.deployment.ses_events_topic_arn
    try:
        subscriptions = list(_paged(
            lambda token: doctor.sns.list_subscriptions_by_topic(
                TopicArn=topic, **({"NextToken": token} if token else {})),
            "Subscriptions"))
    except Exception as error:
        return failed(name, f"Could not list the topic's subscriptions: {_error_text(error)}",
                      _read_access_fix("sns:ListSubscriptionsByTopic"))
    queues = [s for s in subscriptions if s.get("Protocol") == "sqs"]
    fix = "Deploy the stack again: it subscribes the events queue to the topic."
    if not queues:
        return failed(name, "No queue is subscribed to the ses-events topic: SES's events are "
                            "dropped.", fix)
    if all(s.get("SubscriptionArn") == "PendingConfirmation" for s in queues):
        return failed(name, "The events queue's subscription is pending confirmation: SNS "
                            "delivers nothing to it yet.", fix)
    return passed(name, "The events queue's subscription to the ses-events topic is "
                        "confirmed.")


def _subscription_dlq(doctor: Doctor) -> Check:
    name, deployment = "pipeline.subscription_dlq", doctor.deployment
    if not deployment.subscription_dlq_url:
        return skipped(name, "The stack has no SubscriptionDlqUrl output (deployed before it "
                             "had one).")
    return _dlq(doctor, name, deployment.subscription_dlq_url, "subscription",
                "SES events SNS could not deliver to the events queue (its queue policy or "
                "encryption changed?): outcomes are not being recorded",
                after="fix the delivery, then move them back by hand as it says (SQS cannot "
                      "redrive a queue SNS feeds).")


def _dlq(doctor: Doctor, name: str, url: str, which: str, holds: str,
         after: str | None = None) -> Check:
    try:
        attributes = doctor.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                          "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
    except Exception as error:
        return failed(name, f"Could not read the {which} dead-letter queue: "
                            f"{_error_text(error)}", _read_access_fix("sqs:GetQueueAttributes"))
    count = sum(int(attributes.get(key, 0)) for key in (
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"))
    if count == 0:
        return passed(name, f"The {which} dead-letter queue is empty.")
    return failed(name, f"{count} message(s) in the {which} dead-letter queue: {holds}.",
                  f"`mailroom dlq show {which}` lists them with the reason for each (it takes "
                  "nothing out); " + (after or f"fix the cause, then `mailroom dlq redrive "
                                               f"{which}`."))


def _send_queue_age(doctor: Doctor, sending: dict[str, Any] | Exception) -> Check:
    name = "pipeline.send_queue_age"
    if doctor.cloudwatch is None:
        return skipped(name, "No CloudWatch locally: the local sender polls its queue "
                             "continuously.")
    queue_name = doctor.deployment.send_queue_url.rstrip("/").rsplit("/", 1)[-1]
    try:
        age = _latest_metric(doctor, "AWS/SQS", "ApproximateAgeOfOldestMessage",
                             [{"Name": "QueueName", "Value": queue_name}], "Maximum",
                             timedelta(minutes=15))
    except Exception as error:
        return failed(name, f"Could not read the send queue's age: {_error_text(error)}",
                      _read_access_fix("cloudwatch:GetMetricStatistics"))
    if age is None or age < QUEUE_AGE_WARN_SECONDS:
        return passed(name, "The oldest queued message is "
                            f"{_seconds(age or 0)} old: the sender keeps up.")
    detail = f"The oldest queued message is {_seconds(age)} old"
    if _is_paused(sending):
        return warned(name, f"{detail}, because sending is paused.",
                      "Resume once the cause is fixed (see pipeline.sending).")
    fix = ("Look at the sender's logs and errors (throttling, quota, a configuration fault: "
           "metric ConfigurationFault) and at account.quota above.")
    if age < QUEUE_AGE_FAIL_SECONDS:
        return warned(name, f"{detail}: the sender is falling behind.", fix)
    return failed(name, f"{detail}: the sender is not taking mail off the queue.", fix)


def _canary(doctor: Doctor) -> Check:
    name = "pipeline.canary"
    if doctor.cloudwatch is None:
        return skipped(name, "No CloudWatch locally: `mailroom canary run` does one round trip "
                             "now and names the hop that broke, if one did.")
    try:
        succeeded = _latest_metric(
            doctor, shape.METRICS_NAMESPACE, shape.Metric.CANARY_SUCCEEDED.value,
            [{"Name": "service", "Value": shape.CANARY.service}], "Minimum", timedelta(hours=1))
    except Exception as error:
        return failed(name, f"Could not read the canary's metric: {_error_text(error)}",
                      _read_access_fix("cloudwatch:GetMetricStatistics"))
    if succeeded is None:
        return skipped(name, "No canary result in the last hour: the stack runs without it "
                             "(-c canary=off), or it has not run yet (every 15 minutes).")
    if succeeded >= 1:
        return passed(name, "The canary's last round trip (API → sender → SES → events) "
                            "worked.")
    return failed(name, "The canary's last round trip failed: mail is not getting through "
                        "somewhere on the path.",
                  "`mailroom canary run` names the hop that broke (the canary function's log "
                  "says it for the scheduled run).")


# --- content -------------------------------------------------------------------------------


def content_checks(doctor: Doctor) -> list[Check]:
    return [_templates(doctor), _rendering_failures(doctor)]


def _templates(doctor: Doctor) -> Check:
    from mailroom.templates import TemplateCatalog

    name = "content.templates"
    prefix = doctor.deployment.template_prefix
    compiled = {template.ses_name(prefix): template for template in TemplateCatalog.load()}
    try:
        deployed = {
            item["TemplateName"] for item in _paged(
                lambda token: doctor.sesv2.list_email_templates(
                    PageSize=100, **({"NextToken": token} if token else {})),
                "TemplatesMetadata")
        }
        missing = sorted(set(compiled) - deployed)
        differing = []
        for ses_name in sorted(set(compiled) & deployed):
            content = doctor.sesv2.get_email_template(TemplateName=ses_name)["TemplateContent"]
            template = compiled[ses_name]
            if (content.get("Subject"), content.get("Html"), content.get("Text")) != (
                    template.subject, template.html, template.text):
                differing.append(ses_name)
    except Exception as error:
        return failed(name, f"Could not read the SES templates: {_error_text(error)}",
                      _read_access_fix("ses:ListEmailTemplates, ses:GetEmailTemplate"))
    if not missing and not differing:
        return passed(name, f"All {len(compiled)} SES templates equal the compiled ones.")
    problems = ([f"missing: {', '.join(missing)}"] if missing else []) + (
        [f"different from the compiled ones: {', '.join(differing)}"] if differing else [])
    return failed(name, f"SES templates {'; '.join(problems)}. Mail with them fails to render "
                        "or looks different from the preview.",
                  "`make templates`, then deploy the stack again.")


def _rendering_failures(doctor: Doctor) -> Check:
    name = "content.rendering_failures"
    if doctor.cloudwatch is None:
        return skipped(name, "No CloudWatch locally: a local rendering failure shows on the "
                             "message (`mailroom status ID`).")
    try:
        count = _metric_sum(doctor, "AWS/SES", "RenderingFailure", timedelta(hours=24))
    except Exception as error:
        return failed(name, f"Could not read SES's RenderingFailure metric: "
                            f"{_error_text(error)}",
                      _read_access_fix("cloudwatch:GetMetricStatistics"))
    if count == 0:
        return passed(name, "No rendering failures in the last 24 h.")
    return warned(name, f"{count:.0f} rendering failure(s) in the last 24 h: those messages "
                        "ended `render_failed` and were not sent.",
                  "Look at a failed message (`mailroom status ID`): usually the data lacks a "
                  "variable the template uses; preview with `POST /v1/templates/NAME/preview`.")


# --- reputation ----------------------------------------------------------------------------

SES_REPUTATION_METRICS = (("reputation.ses_bounce_rate", "Reputation.BounceRate", "bounce_rate"),
                          ("reputation.ses_complaint_rate", "Reputation.ComplaintRate",
                           "complaint_rate"))


def reputation_checks(doctor: Doctor) -> list[Check]:
    try:
        figures = doctor.api("/v1/reputation")
    except Exception as error:
        return [failed("reputation.mailroom", f"Could not read GET /v1/reputation: {error}",
                       "Check the API is up: `mailroom reputation`.")] + [
            skipped(name, "No thresholds without the API's figures.")
            for name, _, _ in SES_REPUTATION_METRICS]
    thresholds = figures["thresholds"]
    checks = [_mailroom_reputation(figures)]
    for name, metric, key in SES_REPUTATION_METRICS:
        checks.append(_ses_reputation(doctor, name, metric, thresholds["warn"][key],
                                      thresholds["pause"][key]))
    return checks


def _mailroom_reputation(figures: dict[str, Any]) -> Check:
    name = "reputation.mailroom"
    detail = (f"Over {figures['window_hours']} h: {figures['sends']} sends, bounce rate "
              f"{figures['bounce_rate']:.2%}, complaint rate {figures['complaint_rate']:.3%}")
    state = figures["state"]
    if state == "ok":
        return passed(name, f"{detail}: below the guard's thresholds.")
    fix = ("Find where bounces and complaints come from (`mailroom report`, the failure "
           "reasons), clean the list, then `mailroom sending resume` if paused.")
    if state == "warning":
        return warned(name, f"{detail}: past the guard's warning threshold.", fix)
    return failed(name, f"{detail}: the guard paused sending.", fix)


def _ses_reputation(doctor: Doctor, name: str, metric: str, warn_at: float,
                    pause_at: float) -> Check:
    if doctor.cloudwatch is None:
        return skipped(name, "No CloudWatch locally: SES's own reputation metrics exist only "
                             "in AWS.")
    try:
        rate = _latest_metric(doctor, "AWS/SES", metric, [], "Maximum", timedelta(hours=24))
    except Exception as error:
        return failed(name, f"Could not read SES's {metric}: {_error_text(error)}",
                      _read_access_fix("cloudwatch:GetMetricStatistics"))
    if rate is None:
        return skipped(name, f"SES has published no {metric} in the last 24 h yet.")
    detail = f"SES's {metric}: {rate:.3%} (guard warns at {warn_at:.3%}, pauses at " \
             f"{pause_at:.3%})"
    fix = ("SES computes it over a longer window than Mailroom; keep the list clean and watch "
           "the SES console's Reputation metrics page.")
    if rate >= pause_at:
        return failed(name, f"{detail}: at the level where SES reviews or stops accounts.", fix)
    if rate >= warn_at:
        return warned(name, f"{detail}: rising toward SES's review threshold.", fix)
    return passed(name, f"{detail}.")


# --- helpers -------------------------------------------------------------------------------


def _latest_metric(doctor: Doctor, namespace: str, metric: str,
                   dimensions: list[dict[str, str]], statistic: str,
                   span: timedelta) -> float | None:
    now = doctor.now()
    points = doctor.cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName=metric, Dimensions=dimensions,
        StartTime=now - span, EndTime=now, Period=300, Statistics=[statistic],
    )["Datapoints"]
    if not points:
        return None
    return float(max(points, key=lambda point: point["Timestamp"])[statistic])


def _metric_sum(doctor: Doctor, namespace: str, metric: str, span: timedelta) -> float:
    now = doctor.now()
    points = doctor.cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName=metric, StartTime=now - span, EndTime=now,
        Period=int(span.total_seconds()), Statistics=["Sum"],
    )["Datapoints"]
    return float(sum(point["Sum"] for point in points))


def _paged(call: Callable[[str | None], dict[str, Any]], key: str) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = call(token)
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str((response or {}).get("Error", {}).get("Code", "")) if response else ""


def _error_text(error: Exception) -> str:
    response = getattr(error, "response", None)
    if response:
        err = response.get("Error", {})
        return f"{err.get('Code')}: {err.get('Message')}"
    return str(error)


def _read_access_fix(actions: str) -> str:
    return f"Run with AWS credentials allowed to read it ({actions}; read-only)."


def _domain_of(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2].lower()


def _seconds(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def as_json(checks: list[Check]) -> str:
    return json.dumps(report(checks), indent=2)
