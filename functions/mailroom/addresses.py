"""Email addresses: normalisation (the suppression key) and validation for the API."""

from __future__ import annotations


def normalize(address: str) -> str:
    """The form every store keys on: trimmed, lower-cased, IDN domain in ASCII (punycode).

    Lower-casing the local part is what SES and every large mailbox provider do in practice;
    it keeps `Alice@x.com` and `alice@x.com` one suppression entry."""
    address = address.strip()
    local, sep, domain = address.rpartition("@")
    if not sep:
        return address.lower()
    return f"{local.lower()}@{ascii_domain(domain)}"


# RFC 5321's longest forward path; email-validator refuses longer ones too.
MAX_ADDRESS_LENGTH = 254


def lookup_key(address: str) -> str | None:
    """The normalised form of an address to look up, or None when it cannot be one any store
    holds (empty, no @, too long, control characters): such a key would not even be a valid
    DynamoDB key."""
    key = normalize(address)
    if "@" not in key or len(key) > MAX_ADDRESS_LENGTH or any(c in _FORBIDDEN for c in key):
        return None
    return key


def ascii_domain(domain: str) -> str:
    """The domain in ASCII as SES and email-validator write it: IDNA 2008 with UTS 46
    mapping, non-transitional — so `straße.de` stays `xn--strae-oqa.de` rather than
    becoming `strasse.de` (another domain) as Python's built-in IDNA 2003 codec would."""
    import idna

    try:
        return idna.encode(domain, uts46=True, transitional=False).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        return domain.lower()  # not a valid IDN: keep it; validation reports it elsewhere


# Header-breaking characters: anything that could end a header line or smuggle in another.
_FORBIDDEN = set("\r\n\0") | {chr(c) for c in range(0x20) if chr(c) != "\t"} | {"\x7f"}

# Where people send most mail; a domain one or two keystrokes away from one of these is
# almost certainly a typo, and mail to it would hard-bounce and hurt the sender's reputation.
POPULAR_DOMAINS = (
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com", "hotmail.co.uk",
    "outlook.com", "live.com", "msn.com", "icloud.com", "me.com", "aol.com", "proton.me",
    "protonmail.com", "gmx.com", "gmx.de", "web.de", "yandex.com", "mail.com", "comcast.net",
    # Real domains close to the ones above, listed so they are never "corrected".
    "ymail.com", "rocketmail.com", "email.com", "fastmail.com", "hotmail.fr", "hotmail.de",
    "hotmail.it", "yahoo.fr", "yahoo.de", "live.co.uk", "outlook.de", "mail.ru", "gmx.net",
    "att.net", "verizon.net", "sbcglobal.net",
)


# Misspelt endings of popular domains: gmail.con, hotmail.cm.
_TLD_TYPOS = {"con": "com", "cm": "com", "cmo": "com", "comm": "com", "om": "com", "vom": "com",
              "xom": "com", "ocm": "com", "nte": "net", "ent": "net"}
_POPULAR_NAMES = {domain.split(".", 1)[0] for domain in POPULAR_DOMAINS}


def suggest_domain(domain: str) -> str | None:
    """The popular domain `domain` is likely a typo of, if any (gmial.com → gmail.com,
    gmail.con → gmail.com). A popular name under any other ending (hotmail.es,
    yahoo.com.br) is a real provider's country domain and never "corrected"."""
    import difflib

    domain = domain.lower()
    name, _, ending = domain.partition(".")
    if name in _POPULAR_NAMES:
        fixed = f"{name}.{_TLD_TYPOS.get(ending, ending)}"
        return fixed if fixed != domain and fixed in POPULAR_DOMAINS else None
    same_ending = [known for known in POPULAR_DOMAINS if known.partition(".")[2] == ending]
    matches = difflib.get_close_matches(domain, same_ending, n=1, cutoff=0.85)
    return matches[0] if matches else None


def validate(address: object, field: str, *, check_deliverability: bool = False) -> str:
    """A deliverable-looking address in normalised form, or `InvalidAddress` saying why.

    Syntax, IDN and normalisation come from email-validator; on top of it we refuse
    header-breaking characters and likely typos of popular domains (with a suggestion)."""
    from email_validator import EmailNotValidError, validate_email

    from .errors import InvalidAddress

    if not isinstance(address, str) or not address.strip():
        raise InvalidAddress(f"`{field}` must be an email address.", details={"field": field})
    if any(char in _FORBIDDEN for char in address):
        raise InvalidAddress(
            f"`{field}` contains a line break or control character, which could inject "
            "mail headers. Send the bare address.",
            details={"field": field},
        )
    try:
        result = validate_email(
            # SES accepts only 7-bit local parts (no SMTPUTF8); IDN domains are fine.
            address.strip(), check_deliverability=check_deliverability, allow_smtputf8=False,
            dns_resolver=_dns_resolver() if check_deliverability else None,
        )
    except EmailNotValidError as error:
        details: dict[str, object] = {"field": field}
        _, _, domain = address.strip().rpartition("@")
        if suggestion := suggest_domain(domain):
            details["suggestion"] = address.strip().rpartition("@")[0] + "@" + suggestion
        raise InvalidAddress(f"`{field}` is not a valid address: {error}", details=details) \
            from None
    if suggestion := suggest_domain(result.ascii_domain):
        raise InvalidAddress(
            f"`{field}` looks like a typo: did you mean {result.local_part}@{suggestion}?",
            details={"field": field, "suggestion": f"{result.local_part}@{suggestion}"},
        )
    return normalize(result.normalized)


_resolver = None


def _dns_resolver():  # type: ignore[no-untyped-def]
    """One cached resolver per process: email-validator caches answers on it."""
    global _resolver
    if _resolver is None:
        from email_validator import caching_resolver

        _resolver = caching_resolver(timeout=3)
    return _resolver
