"""`/v1/reputation`: the rates the reputation guard watches, and where they stand."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from mailroom.models import utcnow
from mailroom.reputation import assess
from mailroom.shape import ROUTES

from .dependencies import current
from .models import ReputationView, responses
from .routing import route

router = APIGatewayRouter()
TAG = "sending"


@route(router, ROUTES.get_reputation, tag=TAG,
       summary="Bounce and complaint rates against the guard's thresholds",
       responses=responses(200, ReputationView, "The figures over the window"))
def get_reputation() -> ReputationView:
    deps = current(router)
    reputation = assess(deps.counters, deps.switch, deps.reputation, utcnow())
    return ReputationView(
        window_hours=reputation.window_hours, since=reputation.since, sends=reputation.sends,
        bounces=reputation.bounces, complaints=reputation.complaints,
        bounce_rate=reputation.bounce_rate, complaint_rate=reputation.complaint_rate,
        state=reputation.level.value, thresholds=reputation.thresholds())
