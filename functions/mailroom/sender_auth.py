"""Sender authentication as DNS records: what SES needs published so receivers trust the mail
— DKIM (three CNAMEs SES gives per identity), a custom MAIL FROM domain (its MX and SPF, so
SPF aligns with the From domain) and DMARC. Declared once: the CDK stack writes these records
to Route 53 or lists them as outputs, and `mailroom doctor` looks them up.

CDK-free and dependency-free, so both the stack and the CLI can read it."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAIL_FROM_SUBDOMAIN = "bounce"
DMARC_POLICIES = ("none", "quarantine", "reject")
# A new domain starts by watching: `p=none` delivers everything and sends reports; tighten to
# quarantine or reject once the reports show only aligned mail.
RECOMMENDED_DMARC_POLICY = "none"
# SES's MAIL FROM set-up: bounces come back to SES's feedback servers in the region, and SPF
# authorises SES's senders.
SPF_INCLUDE = "amazonses.com"
MAIL_FROM_SPF = f"v=spf1 include:{SPF_INCLUDE} ~all"
MAIL_FROM_MX_PRIORITY = 10
RECORD_TTL_SECONDS = 1800
# Where Easy DKIM's public keys live (GetEmailIdentity's SigningHostedZone says so too).
DKIM_SIGNING_ZONE = "dkim.amazonses.com"


def mail_from_mx_host(region: str) -> str:
    return f"feedback-smtp.{region}.amazonses.com"


def mail_from_mx_value(region: str) -> str:
    return f"{MAIL_FROM_MX_PRIORITY} {mail_from_mx_host(region)}"


def dmarc_name(domain: str) -> str:
    return f"_dmarc.{domain}"


def dmarc_value(policy: str, rua: str | None = None) -> str:
    """A DMARC TXT value: `v=DMARC1; p=<policy>` and, with `rua`, where aggregate reports go
    (an address or a mailto: URI)."""
    if policy not in DMARC_POLICIES:
        raise ValueError(f"dmarc_policy must be one of {', '.join(DMARC_POLICIES)}, not {policy!r}")
    value = f"v=DMARC1; p={policy}"
    if rua:
        value += f"; rua={rua if rua.startswith('mailto:') else 'mailto:' + rua}"
    return value


@dataclass(frozen=True)
class DnsRecord:
    """One record to publish: a fully qualified name (no trailing dot), a type, a value (TXT
    unquoted, MX as "priority host")."""

    name: str
    type: str
    value: str

    @property
    def line(self) -> str:
        """As a person copies it into a DNS provider's form: name, type, value."""
        value = f'"{self.value}"' if self.type == "TXT" else self.value
        return f"{self.name} {self.type} {value}"


def dkim_record(domain: str, token: str, signing_zone: str = DKIM_SIGNING_ZONE) -> DnsRecord:
    """One of Easy DKIM's CNAMEs for a token SES gave the identity."""
    return DnsRecord(f"{token}._domainkey.{domain}", "CNAME", f"{token}.{signing_zone}")
