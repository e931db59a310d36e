"""Names and limits in one place: everything the stack reads from CDK context, with defaults.

`app.py` builds a `MailroomConfig` from context (`cdk synth -c sender_domain=example.org`)
and the constructs only read from it, so a limit is never written twice."""

from __future__ import annotations

import importlib.metadata
import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from mailroom import sender_auth, shape

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
COMPILED_TEMPLATES = FUNCTIONS_DIR / "mailroom" / "compiled_templates.json"

# Placeholder so `cdk synth` works offline out of the box; deploying it is pointless
# (nobody can verify example.com), so app.py warns loudly when it is used.
PLACEHOLDER_DOMAIN = "example.com"

# Lambda platform. Python 3.12 is what uv.lock and the Powertools layer are tested against;
# arm64 is cheaper per GB-second and every bundled wheel ships for aarch64.
RUNTIME = lambda_.Runtime.PYTHON_3_12
# The Powertools layer's version: the one the project locks and tests with.
POWERTOOLS_VERSION = importlib.metadata.version("aws-lambda-powertools")
ARCHITECTURE = lambda_.Architecture.ARM_64
# Names, limits, tables, queues and functions: mailroom.shape.

# One or more DNS labels (letters, digits, inner hyphens), dot-separated.
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DNS_LABELS = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_MAILTO = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}")


@dataclass(frozen=True)
class MailroomConfig:
    stack_name: str = "Mailroom"
    sender_domain: str = PLACEHOLDER_DOMAIN
    from_address: str = ""  # default no-reply@<sender_domain>
    allowed_senders: tuple[str, ...] = ()  # default (sender_domain,)
    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None
    # Custom MAIL FROM <mail_from_subdomain>.<sender_domain>, so SPF aligns with From.
    mail_from_subdomain: str = sender_auth.DEFAULT_MAIL_FROM_SUBDOMAIN
    # A DMARC record is created only when asked: one may exist already, and deleting the
    # stack would delete it.
    dmarc_policy: str | None = None
    dmarc_rua: str | None = None
    # Sender fleet: at most this many concurrent sender invocations (SQS event source
    # maximum concurrency, minimum 2), so the fleet never outruns the SES send rate.
    sender_max_concurrency: int = shape.MIN_MAX_CONCURRENCY
    events_max_concurrency: int = shape.MIN_MAX_CONCURRENCY
    # Sends per second for the whole fleet; unset = the sender's default (SES GetAccount).
    max_send_rate: float | None = None
    # API Gateway usage plan (per API key).
    api_rate_limit: float = 50
    api_burst_limit: int = 100
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    # Alarms go to a topic; with an address, it is subscribed (confirm the email AWS sends).
    alarm_email: str | None = None
    # The send queue's oldest message older than this, while not paused, raises an alarm:
    # longer than the ~30 minutes of retries a message rides out on its own.
    queue_age_alarm_seconds: int = 3600
    # The scheduled canary (`-c canary=off` leaves it out).
    canary: bool = True
    # Offered beside the one-click link in List-Unsubscribe (a mailbox you process).
    unsubscribe_mailto: str | None = None
    templates: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.from_address:
            object.__setattr__(self, "from_address", f"no-reply@{self.sender_domain}")
        # Lower-case: the runtime lower-cases From addresses, and IAM's StringLike on
        # ses:FromAddress is case-sensitive.
        object.__setattr__(self, "allowed_senders",
                           tuple(s.lower() for s in self.allowed_senders or (self.sender_domain,)))
        if not self.allows(self.from_address):
            # The sender's IAM policy only lets allowed senders appear as From.
            raise ValueError(f"from_address {self.from_address} is not in allowed_senders")
        subdomain = self.mail_from_subdomain.strip(".").lower()
        if not _DNS_LABELS.fullmatch(subdomain):
            raise ValueError(f"mail_from_subdomain {self.mail_from_subdomain!r} is not a DNS name")
        object.__setattr__(self, "mail_from_subdomain", subdomain)
        if self.dmarc_policy is not None:
            sender_auth.dmarc_value(self.dmarc_policy)  # refuses an unknown policy
        elif self.dmarc_rua:
            raise ValueError("dmarc_rua needs dmarc_policy (none, quarantine or reject)")
        if self.unsubscribe_mailto is not None and not _MAILTO.fullmatch(
                self.unsubscribe_mailto):
            raise ValueError(f"unsubscribe_mailto {self.unsubscribe_mailto!r} is not a plain "
                             "ASCII address (SES headers are printable ASCII)")
        least = shape.MIN_MAX_CONCURRENCY
        if min(self.sender_max_concurrency, self.events_max_concurrency) < least:
            raise ValueError(f"SQS event source maximum concurrency must be at least {least}")

    def allows(self, address: str) -> bool:
        """Whether `address` may be a From address: listed itself, or its domain is."""
        address = parseaddr(address)[1].lower()  # "Acme <no-reply@x.com>" → the address
        domain = address.rpartition("@")[2]
        return any(s.lower() in (address, domain) for s in self.allowed_senders)

    @property
    def mail_from_domain(self) -> str:
        return f"{self.mail_from_subdomain}.{self.sender_domain}"

    @property
    def dmarc_record_value(self) -> str:
        """The DMARC value the stack creates (with dmarc_policy) or recommends."""
        return sender_auth.dmarc_value(
            self.dmarc_policy or sender_auth.RECOMMENDED_DMARC_POLICY, self.dmarc_rua)

    @property
    def is_placeholder_domain(self) -> bool:
        return self.sender_domain == PLACEHOLDER_DOMAIN

    @property
    def template_prefix(self) -> str:
        """SES template names are account-wide, so every stack prefixes its own."""
        return f"{self.stack_name}-"

    @classmethod
    def from_context(cls, get: Any, templates_file: Path = COMPILED_TEMPLATES) -> MailroomConfig:
        """Build from a context getter (`app.node.try_get_context`); no AWS calls."""

        def text(key: str) -> str | None:
            value = get(key)
            return str(value).strip() if value not in (None, "") else None

        from_address = text("from_address") or ""
        address = parseaddr(from_address)[1]
        sender_domain = text("sender_domain") or (
            address.rpartition("@")[2] if "@" in address else PLACEHOLDER_DOMAIN
        )
        allowed = tuple(p.strip() for p in (text("allowed_senders") or "").split(",") if p.strip())
        values: dict[str, Any] = {
            "stack_name": text("stack_name") or cls.stack_name,
            "sender_domain": sender_domain.lower(),
            "from_address": from_address,
            "allowed_senders": allowed,
            "hosted_zone_id": text("hosted_zone_id"),
            "hosted_zone_name": text("hosted_zone_name"),
            "alarm_email": text("alarm_email"),
            "canary": (text("canary") or "on").lower() not in ("off", "false", "no", "0"),
            "mail_from_subdomain": text("mail_from_subdomain") or cls.mail_from_subdomain,
            "dmarc_policy": (text("dmarc_policy") or "").lower() or None,
            "dmarc_rua": text("dmarc_rua"),
            "unsubscribe_mailto": text("unsubscribe_mailto"),
            "templates": load_templates(templates_file),
        }
        for key, kind in (
            ("sender_max_concurrency", int),
            ("events_max_concurrency", int),
            ("max_send_rate", float),
            ("api_rate_limit", float),
            ("api_burst_limit", int),
            ("queue_age_alarm_seconds", int),
        ):
            if (raw := text(key)) is not None:
                values[key] = kind(raw)
        return cls(**values)


def load_templates(path: Path) -> dict[str, dict[str, Any]]:
    """The compiled templates (`{"name": {"subject", "html", "text", ...}}`) built from
    templates/; none yet means a stack without SES templates, not a failed synth."""
    if not path.exists():
        warnings.warn(f"{path} not found: no SES templates will be deployed", stacklevel=2)
        return {}
    return json.loads(path.read_text(encoding="utf-8"))
