"""A small SES v2 stand-in for the calls Mailroom makes — SendEmail and GetAccount, and
GetConfigurationSet and PutConfigurationSetSendingOptions (a pause disables the
configuration set's sending) — speaking SES v2's REST-JSON protocol so the production SES
adapters run unchanged through boto3 (`AWS_ENDPOINT_URL_SESV2`). It renders stored
templates from the template catalog, writes each message to the outbox, and publishes SES
events to the `ses-events` SNS topic, after a short delay and in order, behaving like the SES
mailbox simulator.

For testing the sender's resilience it also enforces a maximum send rate (429
TooManyRequestsException, like a new SES account's 14/s) and takes injected faults:
`POST /_simulator/faults {"throttle": N, "server_error": N, "reject": N}` fails the next N
calls so; `{"rates": {"throttle": 0.2, "server_error": 0.1}}` fails that share of all calls
from then on, at random (seeded, so a run can be repeated).

`mailroom doctor` also reads the configuration set's event destination and the stored
templates, answered from what the simulator stands for."""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import logging
import random
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from mailroom.ses_events import SUBSCRIBED_KINDS

from .httpserver import JsonRequestHandler, LoopbackServer, Served
from .logs import SES, SES_LOGGER, about, about_mail
from .outbox import OutgoingEmail, build_mime, headers_for_event, write_eml
from .resources import ACCOUNT_ID, REGION
from .ses_events import (
    SentMail,
    bounce_event,
    complaint_event,
    delivery_event,
    rendering_failure_event,
    send_event,
    ses_id,
)
from .ses_mailbox import SUPPRESSION_LIST_ADDRESS, bare_address, outcome_for

log = logging.getLogger(SES_LOGGER)

DEFAULT_MAX_SEND_RATE = 14.0  # a new SES account's rate, messages per second
DEFAULT_MAX_24_HOUR_SEND = 50_000.0
DEFAULT_EVENT_DELAY = 0.15  # seconds between a send and each of its events
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # SES v2's limit on a message, raw or not
CONFIGURATION_SETS_PATH = "/v2/email/configuration-sets/"
SUPPRESSION_PATH = "/v2/email/suppression/addresses"

FAULTS = {
    # name: (HTTP status, SES error code, message)
    "throttle": (429, "TooManyRequestsException", "Maximum sending rate exceeded."),
    "server_error": (500, "InternalFailure", "The request processing has failed because of an "
                     "unknown error, exception or failure."),
    "reject": (400, "MessageRejected", "Email address is not verified. (simulated rejection)"),
}


class SesError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bad_request(message: str) -> SesError:
    return SesError(400, "BadRequestException", message)


def _check_ascii_address(address: str) -> None:
    """SES has no SMTPUTF8: an address must be 7-bit ASCII, its domain in Punycode."""
    local_part, _, domain = bare_address(address).rpartition("@")
    if not local_part.isascii():
        raise _bad_request(f"Local address contains non-ASCII characters: {address}. "
                           "Amazon SES does not support SMTPUTF8.")
    if not domain.isascii():
        raise _bad_request(f"Domain contains non-ASCII characters: {address}. "
                           "Encode it in Punycode.")


@dataclass
class SendLimits:
    """The account's sending quota, enforced per recipient like SES does."""

    max_send_rate: float = DEFAULT_MAX_SEND_RATE
    max_24_hour_send: float = DEFAULT_MAX_24_HOUR_SEND
    sending_enabled: bool = True
    _last_second: deque[float] = field(default_factory=deque)
    _last_day: deque[float] = field(default_factory=deque)

    def take(self, recipients: int, now: float) -> None:
        """Count `recipients` sends now, or raise the error SES answers instead."""
        if not self.sending_enabled:
            raise SesError(400, "SendingPausedException", "Sending is paused for this account.")
        for window, span in ((self._last_second, 1.0), (self._last_day, 86_400.0)):
            while window and window[0] <= now - span:
                window.popleft()
        if len(self._last_day) + recipients > self.max_24_hour_send:
            raise SesError(400, "LimitExceededException", "Daily message quota exceeded.")
        if len(self._last_second) + recipients > self.max_send_rate:
            raise SesError(429, "TooManyRequestsException", "Maximum sending rate exceeded.")
        self._last_second.extend([now] * recipients)
        self._last_day.extend([now] * recipients)

    def sent_last_24_hours(self, now: float) -> int:
        return sum(1 for at in self._last_day if at > now - 86_400.0)


class EventDispatcher:
    """Publishes SES events to SNS at their due time, in due order, from one thread."""

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self.sns = sns
        self.topic_arn = topic_arn
        self._queue: list[tuple[float, int, dict[str, Any]]] = []
        self._sequence = itertools.count()
        self._wakeup = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="ses-events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify()
        self._thread.join(timeout=5)

    def schedule(self, due: float, event: dict[str, Any]) -> None:
        with self._wakeup:
            heapq.heappush(self._queue, (due, next(self._sequence), event))
            self._wakeup.notify()

    def pending(self) -> int:
        with self._wakeup:
            return len(self._queue)

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while not self._stopping and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._wakeup.wait(timeout)
                if self._stopping:
                    return
                _, _, event = heapq.heappop(self._queue)
            try:
                self.sns.publish(TopicArn=self.topic_arn, Message=json.dumps(event))
                log.debug("published a %s event for %s", event["eventType"],
                          ", ".join(event["mail"]["destination"]),
                          extra=about_mail(event["mail"].get("tags") or {}))
            except Exception:
                log.exception("publishing an SES %s event failed", event.get("eventType"),
                              extra=about(SES))


@dataclass
class SimulatedSend:
    """What the simulator did with one SendEmail call; listed at GET /_simulator/messages."""

    message_id: str
    destination: list[str]
    template: str | None
    eml_path: str | None
    events: list[str]


@dataclass(frozen=True)
class _SendRequest:
    """The parts of a SendEmail request the simulator uses, checked like SES checks them."""

    source: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    reply_to: list[str]
    content: dict[str, Any]
    tags: list[dict[str, str]]
    configuration_set: str | None

    @classmethod
    def parse(cls, request: dict[str, Any], known_configuration_set: str) -> _SendRequest:
        destination = request.get("Destination") or {}
        email = cls(
            source=request.get("FromEmailAddress") or "",
            to=list(destination.get("ToAddresses") or []),
            cc=list(destination.get("CcAddresses") or []),
            bcc=list(destination.get("BccAddresses") or []),
            reply_to=list(request.get("ReplyToAddresses") or []),
            content=request.get("Content") or {},
            tags=list(request.get("EmailTags") or []),
            configuration_set=request.get("ConfigurationSetName"),
        )
        if not email.recipients:
            raise _bad_request("Missing required field Destination: add a recipient.")
        if not email.source and "Raw" not in email.content:
            raise _bad_request("Missing required field FromEmailAddress.")
        for address in (email.source, *email.recipients, *email.reply_to):
            _check_ascii_address(address)
        if email.configuration_set and email.configuration_set != known_configuration_set:
            raise SesError(404, "NotFoundException",
                           f"Configuration set <{email.configuration_set}> does not exist.")
        _template_headers(email.content)  # refused before anything is sent, as SES does
        return email

    @property
    def recipients(self) -> list[str]:
        return self.to + self.cc + self.bcc

    @property
    def source_domain(self) -> str:
        return bare_address(self.source).rpartition("@")[2]

    @property
    def template_name(self) -> str | None:
        return (self.content.get("Template") or {}).get("TemplateName")


# SES's limits on Template.Headers.
MAX_TEMPLATE_HEADERS = 15
_HEADER_NAME = re.compile(r"^[!-9;-~]{1,126}$")  # printable ASCII but ':'
_HEADER_VALUE = re.compile(r"^[ -~]{1,870}$")  # printable ASCII and space
# Headers SES sets itself and refuses from a sender.
_RESERVED_HEADERS = {"from", "to", "cc", "bcc", "subject", "date", "message-id", "reply-to",
                     "mime-version", "content-type", "content-transfer-encoding"}


def _template_headers(content: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Template.Headers as SES checks them: at most 15, printable ASCII, none it sets."""
    given = (content.get("Template") or {}).get("Headers") or []
    if len(given) > MAX_TEMPLATE_HEADERS:
        raise _bad_request(f"At most {MAX_TEMPLATE_HEADERS} headers may be added; "
                           f"{len(given)} were given.")
    headers = []
    for header in given:
        name, value = str(header.get("Name") or ""), str(header.get("Value") or "")
        if not _HEADER_NAME.fullmatch(name) or not _HEADER_VALUE.fullmatch(value):
            raise _bad_request(f"Header {name!r} must be printable ASCII, name and value.")
        if name.lower() in _RESERVED_HEADERS:
            raise _bad_request(f"Header {name} is set by SES and cannot be given.")
        headers.append((name, value))
    return tuple(headers)


class SesSimulator(Served):
    def __init__(
        self,
        *,
        sns: Any,
        ses_events_topic_arn: str,
        configuration_set: str,
        outbox_dir: Path,
        catalog: Any = None,
        template_prefix: str = "",
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        max_send_rate: float = DEFAULT_MAX_SEND_RATE,
        event_delay: float = DEFAULT_EVENT_DELAY,
        port: int = 0,
    ) -> None:
        self.configuration_set = configuration_set
        self.outbox_dir = Path(outbox_dir)
        self.region = region
        self.account_id = account_id
        self.event_delay = event_delay
        self.limits = SendLimits(max_send_rate=max_send_rate)
        self.configuration_set_sending_enabled = True
        # The account-level suppression list: address → (BOUNCE/COMPLAINT, when). SES adds
        # what hard-bounces or complains, and its simulator's suppressionlist@ is on it.
        self.account_suppressions: dict[str, tuple[str, datetime]] = {
            SUPPRESSION_LIST_ADDRESS: ("BOUNCE", datetime.now(UTC))}
        self.faults = dict.fromkeys(FAULTS, 0)
        self.fault_rates = dict.fromkeys(FAULTS, 0.0)
        self._fault_dice = random.Random(0)
        self.sends: list[SimulatedSend] = []
        self._templates = (
            {template.ses_name(template_prefix): template for template in catalog}
            if catalog is not None else {}
        )
        self._lock = threading.Lock()
        self.dispatcher = EventDispatcher(sns, ses_events_topic_arn)
        self._server = LoopbackServer(_SesRequestHandler, port, app=self)

    def start(self) -> None:
        self.dispatcher.start()
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
        self.dispatcher.stop()

    # -- SES v2 operations ---------------------------------------------------------------

    def get_account(self) -> dict[str, Any]:
        with self._lock:
            sent = self.limits.sent_last_24_hours(time.monotonic())
            return {
                "DedicatedIpAutoWarmupEnabled": False,
                "EnforcementStatus": "HEALTHY",
                "ProductionAccessEnabled": True,
                "SendingEnabled": self.limits.sending_enabled,
                "SendQuota": {
                    "Max24HourSend": self.limits.max_24_hour_send,
                    "MaxSendRate": self.limits.max_send_rate,
                    "SentLast24Hours": float(sent),
                },
                # Its account list keeps hard bounces and complaints, as a new account's does.
                "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
                "Details": {
                    "MailType": "TRANSACTIONAL",
                    "WebsiteURL": "http://127.0.0.1",
                    "ContactLanguage": "EN",
                    "UseCaseDescription": "Mailroom local stack (SES simulator)",
                    "AdditionalContactEmailAddresses": [],
                    "ReviewDetails": {"Status": "GRANTED", "CaseId": "local"},
                },
            }

    def get_configuration_set(self, name: str) -> dict[str, Any]:
        self._known_configuration_set(name)
        with self._lock:
            return {"ConfigurationSetName": name,
                    "SendingOptions": {"SendingEnabled": self.configuration_set_sending_enabled},
                    "ReputationOptions": {"ReputationMetricsEnabled": True},
                    "DeliveryOptions": {"TlsPolicy": "REQUIRE"}}

    def put_configuration_set_sending_options(self, name: str,
                                              request: dict[str, Any]) -> dict[str, Any]:
        self._known_configuration_set(name)
        enabled = request.get("SendingEnabled", False)
        if not isinstance(enabled, bool):
            raise _bad_request("SendingEnabled must be a boolean.")
        with self._lock:
            changed = self.configuration_set_sending_enabled != enabled
            self.configuration_set_sending_enabled = enabled
        if changed:
            log.info("configuration set %s: sending %s", name,
                     "enabled" if enabled else "disabled", extra=about(SES))
        return {}

    def list_suppressed_destinations(self, query: dict[str, list[str]]) -> dict[str, Any]:
        reasons = set(query.get("Reason", [])) or {"BOUNCE", "COMPLAINT"}
        size = int((query.get("PageSize") or ["1000"])[0])
        start = int((query.get("NextToken") or ["0"])[0])
        with self._lock:
            listed = sorted((email, reason, at) for email, (reason, at)
                            in self.account_suppressions.items() if reason in reasons)
        page = listed[start:start + size]
        answer: dict[str, Any] = {"SuppressedDestinationSummaries": [
            {"EmailAddress": email, "Reason": reason, "LastUpdateTime": at.timestamp()}
            for email, reason, at in page]}
        if start + size < len(listed):
            answer["NextToken"] = str(start + size)
        return answer

    def delete_suppressed_destination(self, email: str) -> dict[str, Any]:
        with self._lock:
            if self.account_suppressions.pop(email.lower(), None) is None:
                raise SesError(404, "NotFoundException",
                               f"Email address {email} does not exist on your suppression "
                               "list.")
        log.info("removed an address from the account-level suppression list",
                 extra=about(SES))
        return {}

    def _known_configuration_set(self, name: str) -> None:
        if name != self.configuration_set:
            raise SesError(404, "NotFoundException",
                           f"Configuration set <{name}> does not exist.")

    def send_email(self, request: dict[str, Any]) -> dict[str, str]:
        with self._lock:
            # Injected faults stand for SES itself failing, before it looks at the request.
            self._inject_fault()
        email = _SendRequest.parse(request, self.configuration_set)
        template = self._template_for(email.content)
        with self._lock:
            if email.configuration_set and not self.configuration_set_sending_enabled:
                raise SesError(400, "SendingPausedException",
                               f"Sending is paused for configuration set "
                               f"<{email.configuration_set}>.")
            self.limits.take(len(email.recipients), time.monotonic())

        message_id = ses_id()
        rendered = self._render(email, template, message_id)
        # SES stamps `mail.timestamp` when it accepts the call; events follow from there.
        accepted_at, accepted_clock = datetime.now(UTC), time.monotonic()
        mail = SentMail(
            message_id=message_id,
            sent_at=accepted_at,
            source=email.source,
            source_arn=(f"arn:aws:ses:{self.region}:{self.account_id}:identity/"
                        f"{email.source_domain}"),
            sending_account_id=self.account_id,
            destination=email.recipients,
            tags=self._event_tags(email),
        )
        eml_path = None
        if isinstance(rendered, str):  # a rendering failure: accepted, never sent
            events = [rendering_failure_event(mail, email.template_name or "", rendered)]
        else:
            eml_path = write_eml(self.outbox_dir, message_id, rendered.as_bytes())
            headers, common_headers = headers_for_event(rendered)
            mail = replace(mail, headers=headers, common_headers=common_headers)
            events = self._mailbox_events(mail, email.recipients, accepted_at)

        # Only a configuration set with an event destination publishes events.
        if email.configuration_set:
            for step, event in enumerate(events, start=1):
                self.dispatcher.schedule(accepted_clock + step * self.event_delay, event)
        else:
            log.warning("SendEmail without ConfigurationSetName: SES publishes no events",
                        extra=about(SES))
        with self._lock:
            self.sends.append(SimulatedSend(
                message_id=message_id,
                destination=email.recipients,
                template=email.template_name,
                eml_path=str(eml_path) if eml_path else None,
                events=[event["eventType"] for event in events],
            ))
        log.info("accepted as %s", message_id, extra=about_mail(mail.tags))
        return {"MessageId": message_id}

    def get_configuration_set_event_destinations(self, name: str) -> dict[str, Any]:
        """The stack's event destination: every event Mailroom subscribes to goes to the
        ses-events topic."""
        self._known_configuration_set(name)
        return {"EventDestinations": [{
            "Name": "ses-events", "Enabled": True,
            "MatchingEventTypes": [kind.name for kind in SUBSCRIBED_KINDS],
            "SnsDestination": {"TopicArn": self.dispatcher.topic_arn},
        }]}

    def read_templates(self, path: str) -> dict[str, Any] | None:
        """The stored templates, as `mailroom doctor` reads them: ListEmailTemplates and
        GetEmailTemplate; None for any other path."""
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if parts == ["v2", "email", "templates"]:
            return {"TemplatesMetadata": [{"TemplateName": name} for name in self._templates]}
        if parts[:3] == ["v2", "email", "templates"] and len(parts) == 4:
            template = self._templates.get(parts[3])
            if template is None:
                raise SesError(404, "NotFoundException", f"Template {parts[3]} does not exist.")
            return {"TemplateName": parts[3], "TemplateContent": {
                "Subject": template.subject, "Html": template.html, "Text": template.text}}
        return None

    # -- helpers -------------------------------------------------------------------------

    def _inject_fault(self) -> None:
        for name, (status, code, message) in FAULTS.items():
            if self.faults[name] > 0:
                self.faults[name] -= 1
                raise SesError(status, code, message)
        roll = self._fault_dice.random()
        for name, rate in self.fault_rates.items():
            if roll < rate:
                raise SesError(*FAULTS[name])
            roll -= rate

    def _template_for(self, content: dict[str, Any]) -> Any:
        if "Template" not in content:
            if "Simple" not in content and "Raw" not in content:
                raise _bad_request("Content must have one of Simple, Raw or Template.")
            return None
        name = content["Template"].get("TemplateName")
        if not name:
            raise _bad_request("Template sending needs a TemplateName (stored templates "
                               "only; inline TemplateContent is not simulated).")
        if name not in self._templates:
            raise SesError(404, "NotFoundException", f"Template {name} does not exist.")
        return self._templates[name]

    def _event_tags(self, email: _SendRequest) -> dict[str, list[str]]:
        tags = {
            "ses:operation": ["SendEmail"],
            "ses:configuration-set": [email.configuration_set or ""],
            "ses:source-ip": ["127.0.0.1"],
            "ses:from-domain": [email.source_domain],
            "ses:caller-identity": ["mailroom-local"],
        }
        for tag in email.tags:
            tags[tag["Name"]] = [tag["Value"]]
        return tags

    def _render(self, email: _SendRequest, template: Any, message_id: str) -> EmailMessage | str:
        """The MIME message to write, or the rendering failure's error message."""
        content = email.content
        if "Raw" in content:
            raw = base64.b64decode(content["Raw"]["Data"])
            return message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
        if template is not None:
            try:
                data = json.loads(content["Template"].get("TemplateData") or "{}")
            except json.JSONDecodeError:
                return "Template data is not valid JSON."
            missing = template.missing(data) if isinstance(data, dict) else []
            if missing:
                return f"Attribute '{missing[0]}' is not present in the rendering data."
            try:
                rendered = template.render(data)
            except Exception as error:  # the catalog's own check, e.g. a list of the wrong shape
                return str(getattr(error, "message", error))
            subject, text, html = rendered.subject, rendered.text, rendered.html
        else:
            simple = content["Simple"]
            subject = (simple.get("Subject") or {}).get("Data", "")
            body = simple.get("Body") or {}
            text = (body.get("Text") or {}).get("Data")
            html = (body.get("Html") or {}).get("Data")
        return build_mime(OutgoingEmail(
            message_id=message_id,
            sent_at=datetime.now(UTC),
            from_address=email.source,
            to=email.to,
            cc=email.cc,
            reply_to=email.reply_to,
            subject=subject,
            text=text,
            html=html,
            configuration_set=email.configuration_set,
            headers=_template_headers(content),
        ))

    def _suppress_for_account(self, recipient: str, reason: str) -> None:
        with self._lock:
            self.account_suppressions.setdefault(bare_address(recipient).lower(),
                                                 (reason, datetime.now(UTC)))

    def _mailbox_events(
        self, mail: SentMail, recipients: list[str], sent_at: datetime
    ) -> list[dict[str, Any]]:
        """Send, then per recipient what the mailbox simulator does with it. Timestamps
        follow the publishing delay, so a timeline reads in the order events arrive."""
        events = [send_event(mail)]
        later: list[dict[str, Any]] = []
        step = timedelta(seconds=self.event_delay)
        for recipient in recipients:
            outcome = outcome_for(recipient)
            if outcome.bounce:
                events.append(bounce_event(mail, recipient, outcome.bounce, sent_at + 2 * step))
                if events[-1]["bounce"]["bounceType"] == "Permanent":
                    self._suppress_for_account(recipient, "BOUNCE")
            if outcome.complaint_feedback_type:
                self._suppress_for_account(recipient, "COMPLAINT")
            if outcome.delivered:
                events.append(delivery_event(mail, recipient, sent_at + 2 * step))
            if outcome.complaint_feedback_type:
                later.append(complaint_event(
                    mail, recipient, outcome.complaint_feedback_type, sent_at + 3 * step
                ))
        return events + later


class _SesRequestHandler(JsonRequestHandler):
    server_version = "mailroom-local-ses"

    @property
    def simulator(self) -> SesSimulator:
        return self.server.app  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_GET

    def _dispatch(self) -> None:
        request_id = str(uuid.uuid4())
        path = urlsplit(self.path).path.rstrip("/")
        route = (self.command, path)
        try:
            body = self.read_body(MAX_REQUEST_BYTES)
            payload = json.loads(body) if body.strip() else {}
            if route == ("POST", "/v2/email/outbound-emails"):
                result = self.simulator.send_email(payload)
            elif route == ("GET", "/v2/email/account"):
                result = self.simulator.get_account()
            elif path.startswith(CONFIGURATION_SETS_PATH):
                result = self._configuration_set(path, payload)
            elif route == ("GET", SUPPRESSION_PATH):
                result = self.simulator.list_suppressed_destinations(
                    parse_qs(urlsplit(self.path).query))
            elif self.command == "DELETE" and path.startswith(SUPPRESSION_PATH + "/"):
                result = self.simulator.delete_suppressed_destination(
                    unquote(path.removeprefix(SUPPRESSION_PATH + "/")))
            elif self.command == "GET" and (described := self.simulator.read_templates(path)):
                result = described
            elif path.startswith("/_simulator/"):
                result = self._control(route, payload)
            else:
                raise SesError(404, "UnknownOperationException",
                               f"{self.command} {path} is not simulated: the Mailroom SES "
                               "simulator answers SendEmail, GetAccount, GetConfigurationSet, "
                               "PutConfigurationSetSendingOptions and the reads `mailroom "
                               "doctor` makes.")
        except SesError as error:
            # REST-JSON errors: botocore reads the code from x-amzn-ErrorType.
            return self.send_json(
                error.status,
                {"message": error.message},
                [("x-amzn-ErrorType", error.code), ("x-amzn-RequestId", request_id)],
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            return self.send_json(
                400,
                {"message": f"Malformed request: {error}"},
                [("x-amzn-ErrorType", "BadRequestException"), ("x-amzn-RequestId", request_id)],
            )
        except Exception as error:
            log.exception("SES simulator failed on %s %s", self.command, path,
                          extra=about(SES))
            return self.send_json(
                500, {"message": str(error)},
                [("x-amzn-ErrorType", "InternalFailure"), ("x-amzn-RequestId", request_id)],
            )
        self.send_json(200, result, [("x-amzn-RequestId", request_id)])

    def _configuration_set(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        name, _, rest = unquote(path.removeprefix(CONFIGURATION_SETS_PATH)).partition("/")
        if (self.command, rest) == ("GET", ""):
            return self.simulator.get_configuration_set(name)
        if (self.command, rest) == ("PUT", "sending"):
            return self.simulator.put_configuration_set_sending_options(name, payload)
        if (self.command, rest) == ("GET", "event-destinations"):
            return self.simulator.get_configuration_set_event_destinations(name)
        raise SesError(404, "UnknownOperationException",
                       f"{self.command} {path} is not simulated.")

    def _control(self, route: tuple[str, str], payload: dict[str, Any]) -> dict[str, Any]:
        simulator = self.simulator
        with simulator._lock:
            if route == ("POST", "/_simulator/faults"):
                rates = payload.pop("rates", None) or {}
                for name in [*payload, *rates]:
                    if name not in FAULTS:
                        raise _bad_request(f"Unknown fault {name!r}; use {sorted(FAULTS)}.")
                for name, count in payload.items():
                    simulator.faults[name] += int(count)
                simulator.fault_rates.update({name: float(rate) for name, rate in rates.items()})
            elif route == ("DELETE", "/_simulator/faults"):
                simulator.faults = dict.fromkeys(FAULTS, 0)
                simulator.fault_rates = dict.fromkeys(FAULTS, 0.0)
            if route[1] == "/_simulator/faults" and route[0] in ("GET", "POST", "DELETE"):
                return {"faults": dict(simulator.faults), "rates": dict(simulator.fault_rates)}
            if route == ("PUT", "/_simulator/account"):
                limits = simulator.limits
                limits.max_send_rate = float(payload.get("max_send_rate", limits.max_send_rate))
                limits.max_24_hour_send = float(
                    payload.get("max_24_hour_send", limits.max_24_hour_send)
                )
                limits.sending_enabled = bool(
                    payload.get("sending_enabled", limits.sending_enabled)
                )
                return {"max_send_rate": limits.max_send_rate,
                        "max_24_hour_send": limits.max_24_hour_send,
                        "sending_enabled": limits.sending_enabled}
            if route == ("GET", "/_simulator/messages"):
                return {"messages": [send.__dict__ for send in simulator.sends],
                        "pending_events": simulator.dispatcher.pending()}
        raise SesError(404, "UnknownOperationException", f"No simulator control {route}.")
