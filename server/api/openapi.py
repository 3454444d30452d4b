"""The OpenAPI 3.1 description of the agent and operator APIs, served at /api/schema.json.

The request bodies are the report schema itself (OpenAPI 3.1 speaks JSON Schema 2020-12),
so the document cannot drift from what the server validates.
"""

from __future__ import annotations

import copy
from typing import Any

from readyfloor_agent import __version__, report


def _components() -> dict[str, Any]:
    defs = copy.deepcopy(report.schema()["$defs"])

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: (value.replace("#/$defs/", "#/components/schemas/") if key == "$ref" else rewrite(value))
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    schemas = rewrite(defs)
    schemas["Error"] = {
        "type": "object",
        "required": ["error", "detail"],
        "properties": {
            "error": {"type": "string", "description": "Machine-readable code, e.g. invalid, node_invalid."},
            "detail": {"type": "string"},
            "field": {
                "type": "string",
                "description": "The JSON path of the offending field, when there is one.",
            },
        },
    }
    schemas["CheckinAccepted"] = {
        "type": "object",
        "required": ["status", "duplicate", "next_checkin_s", "config_version"],
        "properties": {
            "status": {"const": "accepted"},
            "duplicate": {"type": "boolean", "description": "True when this report_id was already stored."},
            "next_checkin_s": {"type": "integer"},
            "config_version": {"type": "string"},
        },
    }
    schemas["Seat"] = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "site": {"type": "string"},
            "floor": {"type": "string"},
            "label": {"type": "string"},
            "row": {"type": "integer"},
            "column": {"type": "integer"},
            "team": {"type": "string"},
            "status": {"enum": ["ready", "at_risk", "not_ready", "offline", "unknown"]},
            "status_since": {"type": "string", "format": "date-time"},
            "evaluated_at": {"type": ["string", "null"], "format": "date-time"},
            "failing_checks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "check_id": {"type": "string"},
                        "state": {"enum": ["fail", "warn", "unknown"]},
                        "severity": {"enum": ["critical", "warning"]},
                        "reason": {"type": "string"},
                    },
                },
            },
            "device": {"type": ["object", "null"]},
        },
    }
    return schemas


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json_body(ref: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        "description": "JSON; may be sent with Content-Encoding: gzip.",
    }


def openapi_document(server_url: str) -> dict[str, Any]:
    node_key = [{"nodeKey": []}]
    operator = [{"apiToken": []}, {"session": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ReadyFloor API",
            "version": __version__,
            "description": "Agent endpoints (enroll, check-in, config) and the operator API.",
        },
        "servers": [{"url": server_url.rstrip("/")}],
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "nodeKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "'NodeKey <node key from enroll>'",
                },
                "apiToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token made in the admin.",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
            },
        },
        "paths": {
            "/api/agent/v1/enroll": {
                "post": {
                    "operationId": "enroll",
                    "summary": "Enrol a workstation with a site's enroll secret; returns its node key.",
                    "requestBody": _json_body("enroll"),
                    "responses": {
                        "201": {"description": "Enrolled; keep node_key secret."},
                        "400": _error("Malformed or invalid body; `field` names the problem."),
                        "403": _error("Unknown or revoked enroll secret."),
                        "413": _error("Body too large."),
                        "415": _error("Unsupported content type or encoding."),
                    },
                }
            },
            "/api/agent/v1/checkin": {
                "post": {
                    "operationId": "checkin",
                    "summary": "Send a report. Replaying a report_id stores nothing new.",
                    "security": node_key,
                    "requestBody": _json_body("checkin"),
                    "responses": {
                        "200": {
                            "description": "A replay of a stored report.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/CheckinAccepted"}
                                }
                            },
                        },
                        "202": {
                            "description": "Stored durably; evaluation follows.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/CheckinAccepted"}
                                }
                            },
                        },
                        "400": _error("Malformed or invalid body; `field` names the problem."),
                        "401": _error("node_invalid: enrol again."),
                        "409": _error("facts_required: resend with full facts."),
                        "503": _error("unavailable: the database is down; keep the report and retry."),
                        "413": _error("Body too large."),
                        "415": _error("Unsupported content type or encoding."),
                    },
                }
            },
            "/api/agent/v1/config": {
                "get": {
                    "operationId": "config",
                    "summary": "The seat's policy and check-in interval, for the agent's self-check.",
                    "security": node_key,
                    "responses": {
                        "200": {"description": "Policy."},
                        "401": _error("node_invalid: enrol again."),
                    },
                }
            },
            "/api/v1/seats": {
                "get": {
                    "operationId": "listSeats",
                    "summary": "Seats with readiness and failing checks; paginated; format=csv exports.",
                    "security": operator,
                    "parameters": [
                        {"name": "site", "in": "query", "schema": {"type": "string"}},
                        {"name": "floor", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "status",
                            "in": "query",
                            "description": "Comma-separated: ready, at_risk, not_ready, offline, unknown.",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "check",
                            "in": "query",
                            "description": "Only seats failing this check id.",
                            "schema": {"type": "string"},
                        },
                        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                        {
                            "name": "page_size",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                        {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"]}},
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of seats.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "count": {"type": "integer"},
                                            "page": {"type": "integer"},
                                            "pages": {"type": "integer"},
                                            "next": {"type": ["string", "null"]},
                                            "previous": {"type": ["string", "null"]},
                                            "results": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Seat"},
                                            },
                                        },
                                    }
                                },
                                "text/csv": {"schema": {"type": "string"}},
                            },
                        },
                        "400": _error("Bad filter."),
                        "401": _error("No or bad credentials."),
                        "403": _error("Not staff."),
                        "404": _error("No such page."),
                    },
                }
            },
            "/api/v1/seats/{seat_id}": {
                "get": {
                    "operationId": "getSeat",
                    "summary": "One seat with every check result.",
                    "security": operator,
                    "parameters": [
                        {"name": "seat_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                    ],
                    "responses": {"200": {"description": "The seat."}, "404": _error("No such seat.")},
                }
            },
        },
    }
