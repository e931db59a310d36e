"""`/v1/templates`: what can be sent, and how it renders."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from mailroom.errors import NotFound, UnknownTemplate
from mailroom.shape import ROUTES
from mailroom.templates import TemplateCatalog

from .models import Preview, PreviewRequest, TemplateList, TemplateSummary, responses
from .routing import route

router = APIGatewayRouter()
TAG = "templates"


@route(router, ROUTES.list_templates, tag=TAG, summary="Templates and the variables each needs",
       responses=responses(200, TemplateList, "Every template"))
def list_templates() -> TemplateList:
    return TemplateList(items=[
        TemplateSummary(name=template.name, subject=template.subject,
                        variables=list(template.variables),
                        lists={name: list(fields) for name, fields in template.lists.items()},
                        types=dict(template.types), data_schema=template.data_schema)
        for template in TemplateCatalog.load()
    ])


@route(router, ROUTES.preview_template, tag=TAG, summary="Render a template with data",
       responses=responses(200, Preview, "Subject, HTML and text as SES renders them",
                           404, 422))
def preview_template(name: str,
                     body: Annotated[PreviewRequest, Body()]) -> Preview:
    try:
        template = TemplateCatalog.load().get(name)
    except UnknownTemplate as error:
        raise NotFound(error.message, details=error.details) from None
    rendered = template.render(body.data)  # checks the data first: a send's refusals
    return Preview(subject=rendered.subject, html=rendered.html, text=rendered.text)
