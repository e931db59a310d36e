"""The HTTP API's request and response bodies (DESIGN §4), and the responses each route
declares in the OpenAPI document. Routes return these models, so the document carries the
schema of every body and a generated client gets typed fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from mailroom.accept import EmailRequest
from mailroom.addresses import MAX_ADDRESS_LENGTH
from mailroom.errors import MailroomError
from mailroom.models import (
    CATEGORY_PATTERN,
    Message,
    SendingState,
    Status,
    Suppression,
    SuppressionReason,
    utcnow,
)
from mailroom.shape import MAX_BATCH_ITEMS, MAX_SUPPRESSION_BATCH

from . import problems

__all__ = ["EmailRequest"]  # the domain's own request model, served as is


class BodyModel(BaseModel):
    # An invocation uses the few models of its route: each is built when first used, not
    # all of them at init.
    model_config = ConfigDict(defer_build=True)


# --- errors ------------------------------------------------------------------------------
class ErrorDetail(BodyModel):
    code: str = Field(examples=["missing_template_data"])
    message: str = Field(description="What went wrong and what to do, in plain words.")
    details: dict[str, Any] | list[Any] | None = None


class ErrorBody(BodyModel):
    """Every error: a stable `code`, a plain-words `message`, and `details` to act on."""

    error: ErrorDetail


# --- requests ----------------------------------------------------------------------------
class BatchRequest(BodyModel):
    model_config = ConfigDict(extra="forbid")

    # Items are validated one by one, so one bad item is refused alone; the document still
    # shows what each item is.
    emails: list[Any] = Field(min_length=1, max_length=MAX_BATCH_ITEMS,
                              description=f"Up to {MAX_BATCH_ITEMS} bodies of "
                                          "POST /v1/emails.",
                              json_schema_extra={
                                  "items": {"$ref": "#/components/schemas/EmailRequest"}})


class SuppressionUpdate(BodyModel):
    model_config = ConfigDict(extra="forbid")

    # Only SES events record bounces and complaints; by hand it is `manual`, or for a
    # category (unsubscribes carried over from another system) `unsubscribed`.
    reason: Literal["manual", "unsubscribed"] = "manual"
    category: str | None = Field(
        default=None, pattern=CATEGORY_PATTERN,
        description="Only mail of templates of this category (e.g. `digest`); omit for all "
                    "mail.")
    note: str | None = Field(default=None, max_length=1000)
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the entry lapses (ISO 8601 with a time zone); "
                                  "omit for never.")
    actor: str | None = Field(default=None, max_length=200,
                              description="Who asks (a person or a system), recorded with "
                                          "the API key id in the entry's history.")

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= utcnow():
            raise ValueError("must be in the future")
        return value

    @model_validator(mode="after")
    def _unsubscribed_from_a_category(self) -> SuppressionUpdate:
        if self.reason == "unsubscribed" and self.category is None:
            raise ValueError("reason `unsubscribed` is for one category of mail: name the "
                             "`category`")
        return self


class PreviewRequest(BodyModel):
    model_config = ConfigDict(extra="forbid")

    data: dict[str, Any] = Field(default_factory=dict, description="Template variables.")


class SendingUpdate(BodyModel):
    model_config = ConfigDict(extra="forbid")

    # Strict: `"yes"` or `1` must not pause the whole system by accident.
    paused: StrictBool
    reason: str | None = Field(default=None, max_length=500)
    actor: str | None = Field(default=None, max_length=200,
                              description="Who asks (a person or a system), recorded with the "
                                          "API key id.")


# --- responses ---------------------------------------------------------------------------
class Accepted(BodyModel):
    id: str
    status: Literal["queued"] = "queued"


class BatchItemAccepted(BodyModel):
    index: int
    id: str
    status: Literal["queued"] = "queued"


class BatchItemRefused(BodyModel):
    index: int
    error: ErrorDetail

    @classmethod
    def of(cls, index: int, error: MailroomError | ValidationError, what: str
           ) -> BatchItemRefused:
        """Item `index` refused: a domain error as the API answers it, a validation error in
        plain words (`what` the item should have been, e.g. "a valid email request")."""
        if isinstance(error, MailroomError):
            return cls(index=index, error=ErrorDetail.model_validate(error.to_body()["error"]))
        entries = problems.details(error.errors())
        return cls(index=index, error=ErrorDetail(
            code="validation_error",
            message=f"The item is not {what}: {problems.sentence(entries)}",
            details=entries))


BatchItemResult = BatchItemAccepted | BatchItemRefused


class BatchAccepted(BodyModel):
    """A result per item, in request order: accepted (`id`, `status`) or refused (`error`)."""

    results: list[BatchItemAccepted | BatchItemRefused]


# Every reason an export writes, so an export imports back as it is.
ImportedReason = Literal["manual", "hard_bounce", "soft_bounce", "complaint", "unsubscribed"]
assert set(get_args(ImportedReason)) == {reason.value for reason in SuppressionReason}


class SuppressionEntry(SuppressionUpdate):
    email: str = Field(max_length=MAX_ADDRESS_LENGTH, description="The address to suppress.")
    # An import carries over what another provider learnt: its bounces and complaints too
    # (wider than PUT's on purpose).
    reason: ImportedReason = "manual"  # type: ignore[assignment]


class SuppressionBatchRequest(BodyModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[Any] = Field(
        min_length=1, max_length=MAX_SUPPRESSION_BATCH,
        description=f"Up to {MAX_SUPPRESSION_BATCH} entries, each checked on its own.",
        # Inline: no route takes an entry alone, so it is not among the document's schemas.
        json_schema_extra={"items": SuppressionEntry.model_json_schema()})


class SuppressionBatchItem(BodyModel):
    index: int
    email: str
    category: str | None = None
    # added: written now; exists: the address was suppressed already, and that entry stands
    status: Literal["added", "exists"]


class SuppressionBatchResult(BodyModel):
    """A result per entry, in request order: written or already there (`status`), or
    refused (`error`)."""

    results: list[SuppressionBatchItem | BatchItemRefused]


class TimelineEntry(BodyModel):
    """One event of a message's timeline; the SES facts of the event ride along."""

    model_config = ConfigDict(extra="allow")

    type: str
    at: datetime


class FailureView(BodyModel):
    reason: str
    action: str
    bounce_type: str | None = None
    bounce_subtype: str | None = None
    diagnostic: str | None = None


class Waiting(BodyModel):
    reason: str
    since: datetime | None = None


class EmailView(BodyModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    status: Status
    to: str
    from_: str = Field(alias="from")
    template: str
    tags: dict[str, str]
    created_at: datetime
    updated_at: datetime
    ses_message_id: str | None
    events: list[TimelineEntry]
    failure: FailureView | None
    waiting: Waiting | None = None

    @classmethod
    def of(cls, message: Message) -> EmailView:
        return cls.model_validate(message.to_api())


class SuppressionView(BodyModel):
    email: str
    reason: SuppressionReason
    created_at: datetime
    expires_at: datetime | None
    source: str
    note: str | None = None
    by: str | None = None
    category: str | None = Field(default=None, description="The one category of mail the "
                                                           "entry stops; null: all mail.")
    history: list[dict[str, Any]] | None = Field(
        default=None, description="Every change, oldest first (only when one address is "
                                  "asked for).")

    @classmethod
    def of(cls, suppression: Suppression,
           history: list[dict[str, Any]] | None = None) -> SuppressionView:
        return cls.model_validate({**suppression.to_api(), "by": suppression.by,
                                   "history": history})


class SuppressionDetail(BodyModel):
    """One address: its global entry's fields (null when only categories of mail are
    stopped), each category entry, and the global entry's history."""

    email: str
    reason: SuppressionReason | None
    created_at: datetime | None
    expires_at: datetime | None
    source: str | None
    note: str | None = None
    by: str | None = None
    categories: list[SuppressionView] = Field(
        description="The categories of mail stopped for this address, each with its history.")
    history: list[dict[str, Any]] = Field(
        description="Every change to the global entry, oldest first; it survives removal.")


class Unsubscribed(BodyModel):
    unsubscribed: bool = True
    category: str = Field(description="The category of mail that stops; other mail goes on.")


class SuppressionList(BodyModel):
    items: list[SuppressionView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at "
                                                "the end.")


class TemplateSummary(BodyModel):
    name: str
    subject: str
    variables: list[str]
    lists: dict[str, list[str]]
    types: dict[str, Any] = Field(description="Each variable's type: text, number, url, or "
                                              "a list of them or of records of them.")
    data_schema: dict[str, Any] = Field(description="The JSON Schema of `data` for this "
                                                    "template.")


class TemplateList(BodyModel):
    items: list[TemplateSummary]


class Preview(BodyModel):
    subject: str
    html: str
    text: str


class SendingView(BodyModel):
    paused: bool
    sending: Literal["enabled", "paused"]
    reason: str | None
    since: datetime | None
    source: str | None
    by: str | None = None

    @classmethod
    def of(cls, state: SendingState) -> SendingView:
        return cls.model_validate({"paused": state.paused, **state.to_api()})


class ThresholdsView(BodyModel):
    bounce_rate: float
    complaint_rate: float
    min_sends: int


class ReputationView(BodyModel):
    """Bounce and complaint rates of real mail over the window, as SES counts them
    (hard bounces ÷ sends, complaints ÷ sends), and the level they reach."""

    window_hours: int
    since: datetime = Field(description="The first hour counted (after a resume: the hour "
                                        "after it).")
    sends: int
    bounces: int
    complaints: int
    bounce_rate: float
    complaint_rate: float
    state: Literal["ok", "warning", "paused"]
    thresholds: dict[Literal["warn", "pause"], ThresholdsView]


class Health(BodyModel):
    status: Literal["ok"] = "ok"
    sending: Literal["enabled", "paused"]


# --- what each route declares ------------------------------------------------------------
ERROR_DESCRIPTIONS = {
    400: "`invalid_json`, or `bad_request` from the gateway",
    403: "`forbidden`: the x-api-key header is missing or wrong (API Gateway)",
    404: "`not_found`",
    405: "`method_not_allowed`; the Allow header lists the methods the path has",
    409: "`idempotency_conflict`",
    410: "`link_expired`: an unsubscribe link past its expiry",
    413: "`payload_too_large`",
    422: "a validation error: see `code` and `details`",
    429: "`rate_limited`: over the usage plan's rate (API Gateway)",
    503: "`sending_paused` or `queue_unavailable`",
}
# What any route may answer: the gateway's refusals and a method the path lacks.
EVERY_ROUTE = (400, 405, 413, 429)


def responses(status: int, model: type[BaseModel] | None, description: str, *errors: int,
              public: bool = False) -> dict[int, OpenAPIResponse]:
    """The route's success response and every error status it can answer, all errors in the
    contract's error shape."""
    declared: dict[int, OpenAPIResponse] = {
        status: {"description": description,
                 **({"content": {"application/json": {"model": model}}} if model else {})}}
    for code in sorted({*errors, *EVERY_ROUTE, *(() if public else (403,))}):
        declared[code] = {"description": ERROR_DESCRIPTIONS[code],
                          "content": {"application/json": {"model": ErrorBody}}}
    return declared
