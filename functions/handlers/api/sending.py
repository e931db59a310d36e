"""`/v1/sending`: whether Mailroom sends at all; pause and resume."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from mailroom.models import SendingState, utcnow
from mailroom.shape import ROUTES

from .dependencies import current, logger
from .models import SendingUpdate, SendingView, responses
from .routing import route, who

router = APIGatewayRouter()
TAG = "sending"


@route(router, ROUTES.get_sending, tag=TAG,
       summary="Whether sending is paused, since when and why",
       responses=responses(200, SendingView, "The sending switch"))
def get_sending() -> SendingView:
    return SendingView.of(current(router).switch.state())


@route(router, ROUTES.put_sending, tag=TAG, summary="Pause or resume sending",
       responses=responses(200, SendingView, "The sending switch as set", 422))
def put_sending(body: Annotated[SendingUpdate, Body()]) -> SendingView:
    """A pause of a paused system keeps the first pause's reason and time (answered as it
    stands); a resume always takes."""
    switch = current(router).switch
    state = SendingState(paused=body.paused, reason=body.reason, since=utcnow(), source="api",
                         by=who(router, body.actor))
    if body.paused:
        if not switch.pause(state):
            logger.info("already paused: the first pause stands", reason=body.reason)
            return SendingView.of(switch.state())
    else:
        switch.set(state)
    logger.info("sending paused" if body.paused else "sending resumed", reason=body.reason)
    return SendingView.of(state)
