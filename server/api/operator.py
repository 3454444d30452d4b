"""The operator API: one NinjaAPI, one router per subject, OpenAPI generated from the code.

To add a subject (policies, history, acknowledgements, alerts): write `server/api/<subject>.py`
with a `router = Router(tags=["<subject>"])`, typed Schema classes for what goes in and out, and
endpoints that start from server.roles.scope; then add one `api.add_router` line below. Errors are
raised as ApiError (or left to ninja's validation) and come out as `{"error", "field", "detail"}`.
"""

from __future__ import annotations

from ninja import NinjaAPI
from readyfloor_agent import __version__

from server.api import acknowledgements, alerts, errors, history, policies, reports, seats
from server.api.auth import OPERATOR_AUTH

api = NinjaAPI(
    title="ReadyFloor API",
    version=__version__,
    description="Agent endpoints (enroll, check-in, config) and the operator API.",
    urls_namespace="api",
    auth=OPERATOR_AUTH,
    # /api/schema.json serves the merged document (server/api/openapi.py); no Swagger page,
    # which would load its scripts from a CDN the floor's network may not reach.
    openapi_url=None,
    docs_url=None,
)
errors.install(api)

api.add_router("/v1/seats", seats.router)
api.add_router("/v1/reports", reports.router)
api.add_router("/v1/policies", policies.router)
api.add_router("/v1/acknowledgements", acknowledgements.router)
api.add_router("/v1/history", history.router)
api.add_router("/v1/alerts", alerts.router)
