"""`/v1/stats`: the hourly counters summed per day over a window, for reports."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from mailroom.models import utcnow
from mailroom.shape import ROUTES
from mailroom.stats import DEFAULT_SINCE, MAX_DAYS, SINCE_PATTERN, Stats, TrafficChoice, stats

from .dependencies import current
from .models import responses
from .routing import route

router = APIGatewayRouter()
TAG = "sending"


@route(router, ROUTES.get_stats, tag=TAG,
       summary="Volume, outcomes, rates, failure reasons and domains, per day",
       responses=responses(200, Stats, "The counters summed over the window", 422))
def get_stats(
    since: Annotated[str, Query(
        pattern=SINCE_PATTERN, max_length=10,
        description=f"`24h` (the last 24 hours), `7d` (today and the 6 days before, UTC), "
                    f"or a date (`2026-11-24`, from its UTC midnight); at most {MAX_DAYS} "
                    "days back.")] = DEFAULT_SINCE,
    traffic: Annotated[TrafficChoice, Query(
        description="Whose mail: real (what SES and the reputation guard judge), the SES "
                    "mailbox simulator's, the canary's, or all.")] = TrafficChoice.REAL,
) -> Stats:
    deps = current(router)
    return stats(deps.counters, deps.reputation, since, utcnow(), traffic)
