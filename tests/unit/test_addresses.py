"""Address validation and normalisation."""

from __future__ import annotations

import dns.resolver
import pytest

from mailroom import addresses
from mailroom.errors import InvalidAddress


@pytest.mark.parametrize(("raw", "normalised"), [
    ("  Ada@Example.COM ", "ada@example.com"),
    ("Bob@BÜCHER.de", "bob@xn--bcher-kva.de"),
    ("ada@straße.de", "ada@xn--strae-oqa.de"),  # IDNA 2008: not strasse.de, another domain
    ("ada@ςigma.gr", "ada@xn--igma-fod.gr"),  # final sigma kept, not mapped
    ("success+welcome@simulator.amazonses.com", "success+welcome@simulator.amazonses.com"),
])
def test_addresses_are_normalised_to_one_key(raw, normalised):
    assert addresses.validate(raw, "to") == normalised
    assert addresses.normalize(raw) == normalised


@pytest.mark.parametrize(("typo", "suggestion"), [
    ("gmial.com", "gmail.com"), ("hotmial.com", "hotmail.com"), ("yaho.com", "yahoo.com"),
    ("outlok.com", "outlook.com"), ("iclod.com", "icloud.com"), ("gmail.con", "gmail.com"),
    ("hotmail.cm", "hotmail.com"),
])
def test_likely_typos_of_popular_domains_get_a_suggestion(typo, suggestion):
    assert addresses.suggest_domain(typo) == suggestion


@pytest.mark.parametrize("domain", ["gmail.com", "ymail.com", "email.com", "example.com",
                                    "mail.example.com", "hotmail.de", "hotmail.es",
                                    "outlook.es", "yahoo.com.br", "hotmail.com.br",
                                    "yahoo.com.mx", "gmx.at"])
def test_real_domains_are_never_corrected(domain):
    assert addresses.suggest_domain(domain) is None


@pytest.mark.parametrize("raw", ["ada", "ada@", "@example.com", "ada@example", "a b@example.com",
                                 "josé@example.com",  # SES takes no SMTPUTF8 local parts
                                 "ada@example.com\r\nBcc: x@example.com", "ada@exa\tmple.com"])
def test_malformed_or_header_breaking_addresses_are_refused(raw):
    with pytest.raises(InvalidAddress) as caught:
        addresses.validate(raw, "to")
    assert caught.value.details["field"] == "to"


class NoSuchDomain:
    """A resolver for a world where the domain does not exist."""

    def resolve(self, name, record_type, *args, **kwargs):
        raise dns.resolver.NXDOMAIN


def test_the_deliverability_check_refuses_a_domain_that_does_not_exist(monkeypatch):
    monkeypatch.setattr(addresses, "_dns_resolver", NoSuchDomain)

    with pytest.raises(InvalidAddress):
        addresses.validate("ada@no-such-domain.example", "to", check_deliverability=True)


def test_the_deliverability_check_is_off_by_default(monkeypatch):
    monkeypatch.setattr(addresses, "_dns_resolver", NoSuchDomain)

    assert addresses.validate("ada@no-such-domain.example", "to") == "ada@no-such-domain.example"
