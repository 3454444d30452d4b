"""The report an agent sends: building it, hashing its facts, validating it.

The JSON Schema in ``report.schema.json`` is the single declaration of the protocol; the
server validates every request body against it and the agent's tests validate every
collector's output against it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from functools import lru_cache
from importlib import resources
from typing import Any

from . import __version__

SCHEMA_VERSION = 1


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("report.schema.json").read_text("utf-8")
    return json.loads(text)


def canonical_json(value: Any) -> bytes:
    """The byte form both sides hash: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def facts_hash(facts: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(facts)).hexdigest()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def isoformat(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def build_checkin(
    facts: dict[str, Any],
    *,
    collected_at: dt.datetime | None = None,
    report_id: str | None = None,
    last_acknowledged_hash: str | None = None,
    agent_version: str = __version__,
    dropped_reports: int = 0,
) -> dict[str, Any]:
    """A check-in body. When the facts equal the last ones the server acknowledged, only
    their hash is sent (a heartbeat of a few hundred bytes instead of the full report)."""
    body: dict[str, Any] = {
        "report_id": report_id or str(uuid.uuid4()),
        "collected_at": isoformat(collected_at or utc_now()),
        "schema_version": SCHEMA_VERSION,
        "agent_version": agent_version,
    }
    current = facts_hash(facts)
    if last_acknowledged_hash is not None and current == last_acknowledged_hash:
        body["facts_hash"] = current
    else:
        body["facts"] = facts
    if dropped_reports:
        body["dropped_reports"] = dropped_reports
    return body


@lru_cache(maxsize=8)
def _validator(kind: str) -> Any:
    # jsonschema is imported lazily: the agent does not need it at run time.
    import jsonschema

    document = dict(schema())
    document = {**document, "$ref": f"#/$defs/{kind}"}
    validator_class = jsonschema.validators.validator_for(document)
    return validator_class(document, format_checker=validator_class.FORMAT_CHECKER)


class SchemaError(ValueError):
    """A document does not match the schema. ``field`` is a JSON path such as
    ``facts.chrome.profiles[0].mic_default``; ``message`` says what is wrong with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@lru_cache(maxsize=8)
def _fast_validator(kind: str) -> Any:
    try:
        import jsonschema_rs
    except ImportError:  # the agent does not need it; the server installs it
        return None
    return jsonschema_rs.validator_for({**schema(), "$ref": f"#/$defs/{kind}"})


def validate(kind: str, document: Any) -> None:
    """Raise SchemaError naming the most relevant failing field of ``document``
    against ``$defs/<kind>`` (``enroll``, ``checkin`` or ``facts``).

    Where jsonschema-rs is installed (the server installs it), it accepts a valid document
    in microseconds instead of the milliseconds jsonschema takes, which on a busy server is
    most of a report's CPU. jsonschema stays the authority: it runs whenever jsonschema-rs
    says no, to name the field, or to accept what only the stricter one refused (its
    regular expressions are ECMA-262's, where ``$`` and ``\\d`` are stricter than Python's)."""
    fast = _fast_validator(kind)
    if fast is not None:
        try:
            if fast.is_valid(document):
                return
        except Exception:  # a value it cannot take (a huge integer, say): ask jsonschema
            pass
    import jsonschema

    validator = _validator(kind)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return
    raise SchemaError(_field_of(error), _message_of(error))


def _field_of(error: Any) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    field = path.lstrip(".")
    # A missing or unexpected property is reported on its parent; name the property itself.
    if error.validator == "required":
        missing = _quoted_name(error.message)
        return f"{field}.{missing}".lstrip(".") if missing else field or "(body)"
    if error.validator == "additionalProperties":
        extra = _quoted_name(error.message)
        return f"{field}.{extra}".lstrip(".") if extra else field or "(body)"
    return field or "(body)"


def _quoted_name(message: str) -> str | None:
    start = message.find("'")
    end = message.find("'", start + 1)
    return message[start + 1 : end] if start != -1 and end != -1 else None


def _message_of(error: Any) -> str:
    if error.validator == "additionalProperties":
        return "unexpected field"
    if error.validator == "required":
        return "required field is missing"
    if error.validator == "oneOf" and not error.absolute_path:
        return "send exactly one of 'facts' or 'facts_hash'"
    message = str(error.message)
    return message if len(message) <= 200 else message[:197] + "..."
