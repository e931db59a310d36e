"""What the SES mailbox simulator does with each recipient (DESIGN §3): which events SES
publishes for it. Any other address is treated as a successful delivery, so local mail to
real-looking addresses never leaves the laptop and still goes through the whole pipeline.

Besides SES's own simulator addresses (which never count toward reputation), the reserved
test domain `test.mailroom.example` has mailboxes that bounce and complain like real
recipients and count like real mail, so the reputation guard can be tried with the API alone:
`bounce@`, `complaint@`, and anything else delivered (`+labels` allowed)."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr

from mailroom.models import SIMULATOR_DOMAIN

# On SES's account-level suppression list from the start, as the simulator's own is.
SUPPRESSION_LIST_ADDRESS = f"suppressionlist@{SIMULATOR_DOMAIN}"
# RFC 2606 reserves .example: no real mailbox can ever be at it.
TEST_DOMAIN = "test.mailroom.example"

SUPPRESSION_LIST_DIAGNOSTIC = (
    "Amazon SES did not send the message to this address because it is on the suppression "
    "list for your account. For more information about removing addresses from the "
    "suppression list, see the Amazon SES Developer Guide at "
    "https://docs.aws.amazon.com/ses/latest/DeveloperGuide/sending-email-suppression-list.html"
)


@dataclass(frozen=True)
class Bounce:
    bounce_type: str
    bounce_subtype: str
    status: str
    diagnostic_code: str
    reporting_mta: str


@dataclass(frozen=True)
class Outcome:
    delivered: bool = True
    bounce: Bounce | None = None
    complaint_feedback_type: str | None = None


DELIVERED = Outcome()
HARD_BOUNCE = Outcome(
    delivered=False,
    bounce=Bounce(
        "Permanent", "General", "5.1.1", "smtp; 550 5.1.1 user unknown",
        "dsn; a8-53.smtp-out.amazonses.com",
    ),
)
ON_SUPPRESSION_LIST = Outcome(
    delivered=False,
    bounce=Bounce(
        "Permanent", "OnAccountSuppressionList", "5.1.1", SUPPRESSION_LIST_DIAGNOSTIC,
        "dns; amazonses.com",
    ),
)
COMPLAINT = Outcome(complaint_feedback_type="abuse")

_SIMULATOR_OUTCOMES = {
    "success": DELIVERED,
    "bounce": HARD_BOUNCE,
    "complaint": COMPLAINT,
    "ooto": DELIVERED,  # SES also sends an out-of-office reply to the sender; not simulated
    "suppressionlist": ON_SUPPRESSION_LIST,
}


def bare_address(address: str) -> str:
    """`Name <user@host>` → `user@host`."""
    return parseaddr(address)[1] or address.strip()


def outcome_for(address: str) -> Outcome:
    local_part, _, domain = bare_address(address).lower().rpartition("@")
    if domain not in (SIMULATOR_DOMAIN, TEST_DOMAIN):
        return DELIVERED
    # The simulator accepts labels: bounce+signup-test@simulator.amazonses.com bounces too.
    mailbox = local_part.split("+", 1)[0]
    return _SIMULATOR_OUTCOMES.get(mailbox, DELIVERED)
