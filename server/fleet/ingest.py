"""Turning agent requests into stored rows: enrolment and check-ins.

`checkin()` is the whole check-in pipeline after the HTTP layer has read the body: it
validates the report once, authenticates the node key once and stores the report once
(a heartbeat on a judged seat in a single statement). A check-in is durable in PostgreSQL
before the agent hears 202; evaluation is queued only after commit, and only when
something changed.

Fleet knows nothing of policies or of the worker: the compliance app installs, at start-up,
the statement that finds a device with its governing policy and the function that queues an
evaluation (`install`). Without them a check-in is stored and answered with the built-in
defaults, and nothing is judged.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb
from readyfloor_agent.report import SchemaError, facts_hash, validate

# Enrolment has its own module (its threat model is its own subject); these names stay here
# for the callers that knew them as ingest's.
from server.fleet.enrolment import Enrolment, enroll, move_to_seat  # noqa: F401
from server.fleet.models import (
    CheckIn,
    Device,
    FactSnapshot,
    Floor,
    Readiness,
    Seat,
    sha256_hex,
)
from server.fleet.rawsql import columns_of, fetch_one_prepared, instance_from_row

log = logging.getLogger(__name__)


def _device_sql_without_policy(
    columns: str, where: str = "d.node_key_hash = %(key)s", joins: str = "", lock: str = ""
) -> str:
    return f"""
        SELECT {columns}, NULL::bigint AS policy_id, NULL::text AS policy_digest
        FROM {Device._meta.db_table} d
        LEFT JOIN {Seat._meta.db_table} s ON s.id = d.seat_id
        LEFT JOIN {Floor._meta.db_table} f ON f.id = s.floor_id
        {joins}
        WHERE {where}
        {lock}
    """


def _no_evaluator(checkin_id: int) -> None:
    log.warning("no evaluator installed; check-in %s is stored but not judged", checkin_id)


@dataclass(frozen=True)
class Hooks:
    """What ingest needs from the apps above fleet, handed to it rather than imported."""

    device_sql: Callable[..., str] = _device_sql_without_policy
    queue_evaluation: Callable[[int], None] = _no_evaluator


_hooks = Hooks()


def install(*, device_sql: Callable[..., str], queue_evaluation: Callable[[int], None]) -> None:
    """Called once by the compliance app when Django starts (ComplianceConfig.ready)."""
    global _hooks
    _hooks = Hooks(device_sql=device_sql, queue_evaluation=queue_evaluation)
    _heartbeat_sql.cache_clear()
    _caller_sql.cache_clear()


class Invalid(Exception):
    """A report that does not hold to its schema; `field` names what is wrong."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field, self.detail = field, detail


class NodeInvalid(Exception):
    """An unknown or revoked node key: the agent must enrol again."""


class FactsRequired(Exception):
    """A heartbeat named facts by hash that the server does not hold."""


def validate_document(kind: str, body: Any) -> None:
    """Hold a request body to the agent's JSON Schema (report.schema.json)."""
    try:
        validate(kind, body)
    except SchemaError as error:
        raise Invalid(error.field, error.message) from error
    except RecursionError as error:
        raise Invalid("(body)", "document is nested too deeply") from error


# The window of collection times a report may carry, as the schema's pattern has it: earlier
# is a broken clock (year 1 would be stored as 1 BC once moved to UTC), later would overflow.
EARLIEST_COLLECTED_AT = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
LATEST_COLLECTED_AT = dt.datetime(2999, 12, 31, tzinfo=dt.timezone.utc)
# Device counters are 32-bit columns: running totals stop here instead of overflowing.
COUNTER_MAX = 2_147_483_647


def _validate_report(body: Any) -> None:
    validate_document("checkin", body)
    # The schema checks the forms of `collected_at` and `report_id`; this checks that they
    # are a real moment in a sane window and a real UUID, so nothing later can raise.
    try:
        moment = parse_collected_at(body["collected_at"])
    except (ValueError, OverflowError) as error:
        raise Invalid("collected_at", f"not a valid date-time: {error}") from error
    if not EARLIEST_COLLECTED_AT <= moment <= LATEST_COLLECTED_AT:
        raise Invalid("collected_at", "outside the years 2000-2999; is the workstation's clock set?")
    try:
        uuid.UUID(body["report_id"])
    except ValueError as error:
        raise Invalid("report_id", f"not a UUID: {error}") from error


@dataclass(frozen=True)
class Accepted:
    """A stored (or replayed) check-in and the policy whose answer the agent gets."""

    duplicate: bool
    policy_id: int | None
    policy_digest: str | None
    # The seat's floor, whose shifts may ask its agents to report more often.
    floor_id: int | None = None
    # A person asked for a recheck: this answer asks the agent to collect and report at once.
    recheck: bool = False


def checkin(node_key: str, body: Any, received_at: dt.datetime | None = None) -> Accepted:
    """Validate, authenticate and store one check-in; raise Invalid, NodeInvalid or
    FactsRequired when it cannot be stored (then nothing is).

    Invalid input is refused as invalid whoever sends it (400 before 401). A full report
    authenticates first only so that facts the server already holds need not be validated
    again: they were when first stored."""
    received_at = received_at or timezone.now()
    held: HeldFacts | None = None
    if isinstance(body, dict) and "facts_hash" in body and "facts" not in body:
        # A heartbeat: on a judged seat whose facts did not change, one statement settles it.
        _validate_report(body)
        if not node_key:
            raise NodeInvalid
        heartbeat = record_heartbeat(sha256_hex(node_key), body, received_at)
        if heartbeat is None:
            raise NodeInvalid
        if heartbeat.quiet:
            return Accepted(
                heartbeat.checkin_id is None,
                heartbeat.policy_id,
                heartbeat.policy_digest,
                heartbeat.floor_id,
                recheck=heartbeat.recheck_pending and hand_over_recheck(heartbeat.device_id, received_at),
            )
        device = heartbeat.device()
    else:
        found = authenticate(node_key)
        held = held_facts(body, found) if found is not None else None
        if held is None:
            _validate_report(body)
        else:
            # The rest of the report is checked as the heartbeat it amounts to.
            envelope = {key: value for key, value in body.items() if key != "facts"}
            _validate_report({**envelope, "facts_hash": held.digest})
        if found is None:
            raise NodeInvalid
        device = found
    outcome = record_checkin(device, body, received_at=received_at, held=held)
    floor_id = device.seat.floor_id if device.seat_id is not None else None
    recheck = device.recheck_pending and hand_over_recheck(device.pk, received_at)
    return Accepted(
        outcome.duplicate, device.governing_policy_id, device.governing_policy_digest, floor_id, recheck
    )


def hand_over_recheck(device_id: int, now: dt.datetime) -> bool:
    """Mark a pending recheck as handed to the agent; False if another request got it first
    (two reports racing), so one answer carries it. Runs only while a recheck is pending."""
    row = fetch_one_prepared(
        f"UPDATE {Device._meta.db_table} SET recheck_sent_at = %(now)s"
        " WHERE id = %(device)s AND recheck_requested_at IS NOT NULL"
        " AND (recheck_sent_at IS NULL OR recheck_sent_at < recheck_requested_at) RETURNING id",
        {"now": now, "device": device_id},
    )
    return row is not None


@functools.lru_cache(maxsize=1)
def _caller_sql() -> str:
    # A plain cursor: a QuerySet or RawQuerySet would cost more CPU than the query itself.
    return _hooks.device_sql(columns_of(Device, "d") + ", s.floor_id, s.readiness")


def authenticate(node_key: str) -> Device | None:
    """The device of a node key plus, in the same round trip, what a check-in needs:
    `device.seat` (id, floor and readiness only; other fields load on access) and the
    governing policy's id and digest as `device.governing_policy_id` / `..._digest`."""
    if not node_key:
        return None
    row = fetch_one_prepared(_caller_sql(), {"key": sha256_hex(node_key)})
    return _caller_from_row(row) if row is not None else None


def _caller_from_row(row: tuple[Any, ...]) -> Device:
    width = len(Device._meta.concrete_fields)
    device = instance_from_row(Device, row[:width])
    floor_id, readiness, device.governing_policy_id, device.governing_policy_digest = row[width : width + 4]
    if device.seat_id is not None:
        device.seat = Seat.from_db(
            connection.alias, ["id", "floor_id", "readiness"], [device.seat_id, floor_id, readiness]
        )
    return device


def held_facts(body: Any, device: Device) -> HeldFacts | None:
    """The snapshot of a full report's facts, when the server already holds them."""
    if not (isinstance(body, dict) and isinstance(body.get("facts"), dict)):
        return None
    if "facts_hash" in body:
        return None  # both forms at once is invalid: let the full validation say so
    try:
        digest = facts_hash(body["facts"])
    except (ValueError, TypeError, RecursionError):
        return None
    if digest == device.facts_hash and device.current_facts_id is not None:
        return HeldFacts(digest, device.current_facts_id)
    snapshot_id = snapshot_id_of(digest)
    return HeldFacts(digest, snapshot_id) if snapshot_id is not None else None


@dataclass(frozen=True)
class CheckinOutcome:
    checkin_id: int | None
    duplicate: bool
    needs_evaluation: bool


class HeldFacts(NamedTuple):
    """Facts of a full report that the server already stores as a snapshot."""

    digest: str
    snapshot_id: int


def snapshot_id_of(digest: str) -> int | None:
    row = fetch_one_prepared(
        f"SELECT id FROM {FactSnapshot._meta.db_table} WHERE sha256 = %(digest)s", {"digest": digest}
    )
    return row[0] if row else None


def record_checkin(
    device: Device,
    body: dict[str, Any],
    received_at: dt.datetime | None = None,
    held: HeldFacts | None = None,
) -> CheckinOutcome:
    """Store one validated check-in of `device`.

    The common case (facts unchanged, sent as a heartbeat or in full) is one SQL statement:
    it inserts the check-in and touches the device atomically on its own, so it needs no
    transaction and costs one round trip to PostgreSQL. New facts add one more to store
    their snapshot (content-addressed, so a snapshot left by a failed request is harmless)."""
    received_at = received_at or timezone.now()
    # An agent with a clock in the future must not pin its facts forever: later reports
    # would all look older. Its collection time is capped at our receive time. Uncapped, it
    # is the check-in's partition key, the same in every resend (see CheckIn).
    agent_collected_at = parse_collected_at(body["collected_at"])
    collected_at = min(agent_collected_at, received_at)
    report_id = uuid.UUID(body["report_id"])

    if "facts" in body:
        # `held`: the caller found these facts already stored (see agent_api CheckinView).
        digest = held.digest if held else facts_hash(body["facts"])
        if held:
            snapshot_id = held.snapshot_id
        elif digest == device.facts_hash and device.current_facts_id is not None:
            # The same facts again (an agent that lost its last acknowledged hash): the
            # device already points at their snapshot.
            snapshot_id = device.current_facts_id
        else:
            snapshot_id = _store_snapshot(digest, body["facts"], received_at)
    else:
        digest = body["facts_hash"]
        snapshot_id = device.current_facts_id if digest == device.facts_hash else snapshot_id_of(digest)
        if snapshot_id is None:
            raise FactsRequired(digest)

    is_newer = device.facts_collected_at is None or collected_at >= device.facts_collected_at
    facts_changed = is_newer and digest != device.facts_hash
    seat_readiness = device.seat.readiness if device.seat_id else None
    # Unchanged facts still need a verdict when the seat is shown as silent or unjudged.
    needs_evaluation = facts_changed or seat_readiness in {Readiness.OFFLINE, Readiness.UNKNOWN}

    checkin_id = _accept_checkin(
        device_id=device.pk,
        report_id=report_id,
        collected_at=collected_at,
        agent_collected_at=agent_collected_at,
        received_at=received_at,
        digest=digest,
        snapshot_id=snapshot_id,
        agent_version=body.get("agent_version", ""),
        evaluated_at=None if needs_evaluation else received_at,
        is_newer=is_newer,
        dropped=body.get("dropped_reports", 0),
        dead_lettered=body.get("dead_lettered_reports", 0),
    )
    if checkin_id is None:
        return CheckinOutcome(checkin_id=None, duplicate=True, needs_evaluation=False)
    if needs_evaluation:
        # Outside a transaction the statement above has committed and this runs at once.
        transaction.on_commit(lambda: _hooks.queue_evaluation(checkin_id))
    return CheckinOutcome(checkin_id=checkin_id, duplicate=False, needs_evaluation=needs_evaluation)


class Heartbeat(NamedTuple):
    """What one heartbeat statement found: the caller's device row and governing policy, and
    the id of the stored check-in (None for a replay). `quiet` is False when the heartbeat
    needs the general path: its hash is not the device's current one, or its seat waits for
    a verdict (OFFLINE or UNKNOWN), and nothing was stored."""

    row: tuple[Any, ...]
    quiet: bool
    checkin_id: int | None

    @property
    def device_id(self) -> int:
        return self.row[0]

    @property
    def policy_id(self) -> int | None:
        return self.row[-2]

    @property
    def policy_digest(self) -> str | None:
        return self.row[-1]

    @property
    def floor_id(self) -> int | None:
        return self.row[len(Device._meta.concrete_fields)]

    @property
    def recheck_pending(self) -> bool:
        requested, sent = self.row[_RECHECK_REQUESTED], self.row[_RECHECK_SENT]
        return requested is not None and (sent is None or sent < requested)

    def device(self) -> Device:
        """The authenticated device, as `authenticate` returns it, without asking again."""
        return _caller_from_row(self.row)


_DEVICE_COLUMNS = [field.name for field in Device._meta.concrete_fields]
_RECHECK_REQUESTED = _DEVICE_COLUMNS.index("recheck_requested_at")
_RECHECK_SENT = _DEVICE_COLUMNS.index("recheck_sent_at")


def record_heartbeat(
    node_key_hash: str, body: dict[str, Any], received_at: dt.datetime | None = None
) -> Heartbeat | None:
    """Store a validated heartbeat in one statement, or say why it cannot be: None for an
    unknown node key; `quiet=False` when only record_checkin can handle it.

    Heartbeats are most of the traffic (an agent reports every minute and its facts rarely
    change), so this is the one place where authentication, the replay check, the insert,
    the device update and the policy lookup share a single round trip to PostgreSQL."""
    received_at = received_at or timezone.now()
    agent_collected_at = parse_collected_at(body["collected_at"])
    row = fetch_one_prepared(
        _heartbeat_sql(),
        {
            "key": node_key_hash,
            "report": uuid.UUID(body["report_id"]),
            "collected": min(agent_collected_at, received_at),
            "agent_collected": agent_collected_at,
            "received": received_at,
            "digest": body["facts_hash"],
            "agent_version": body["agent_version"],
            "dropped": body.get("dropped_reports", 0),
            "dead_lettered": body.get("dead_lettered_reports", 0),
        },
    )
    return Heartbeat(row[:-2], row[-2], row[-1]) if row else None


@functools.lru_cache(maxsize=1)
def _heartbeat_sql() -> str:
    # Seats shown as silent or unjudged need the worker: the general path queues them.
    waiting = ", ".join(f"'{readiness.value}'" for readiness in (Readiness.OFFLINE, Readiness.UNKNOWN))
    return f"""
        WITH caller AS ({_hooks.device_sql(columns_of(Device, "d") + ", s.floor_id, s.readiness")}),
        quiet AS (
            SELECT id FROM caller
            WHERE facts_hash = %(digest)s
              AND (readiness IS NULL OR readiness NOT IN ({waiting}))
        ), accepted AS (
            INSERT INTO {CheckIn._meta.db_table}
                (device_id, report_id, collected_at, agent_collected_at, received_at, facts_hash,
                 agent_version, evaluated_at)
            SELECT id, %(report)s, %(collected)s, %(agent_collected)s, %(received)s, %(digest)s,
                   %(agent_version)s, %(received)s
            FROM quiet
            ON CONFLICT (report_id, agent_collected_at) DO NOTHING
            RETURNING id, device_id
        ), touched AS (
            UPDATE {Device._meta.db_table} d SET
                last_seen_at = %(received)s,
                agent_version = %(agent_version)s,
                dropped_reports = LEAST(d.dropped_reports::bigint + %(dropped)s, {COUNTER_MAX}),
                dead_lettered_reports = LEAST(
                    d.dead_lettered_reports::bigint + %(dead_lettered)s, {COUNTER_MAX}
                ),
                facts_collected_at = CASE
                    WHEN d.facts_hash = %(digest)s
                         AND (d.facts_collected_at IS NULL OR d.facts_collected_at <= %(collected)s)
                    THEN %(collected)s ELSE d.facts_collected_at END
            FROM accepted WHERE d.id = accepted.device_id
        )
        SELECT caller.*, EXISTS (SELECT 1 FROM quiet), (SELECT id FROM accepted)
        FROM caller
    """


def parse_collected_at(value: str) -> dt.datetime:
    """RFC 3339 text to an aware datetime; ValueError when it is not a real moment."""
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("collected_at needs a time zone offset")
    return moment


def _store_snapshot(digest: str, facts: dict[str, Any], now: dt.datetime) -> int:
    """The id of the snapshot of `facts`, inserting it if it is new (one round trip then)."""
    table = FactSnapshot._meta.db_table
    with connection.cursor() as cursor:
        # Two devices may send identical new facts at the same moment: the unique index decides.
        cursor.execute(
            f"INSERT INTO {table} (sha256, facts, created_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (sha256) DO NOTHING RETURNING id",
            [digest, Jsonb(facts), now],
        )
        row = cursor.fetchone()
        if row is None:
            # Known facts, or another request's insert that committed while ours waited on
            # the index; a new statement sees it either way.
            cursor.execute(f"SELECT id FROM {table} WHERE sha256 = %s", [digest])
            row = cursor.fetchone()
    return row[0]


def _accept_checkin(
    *,
    device_id: int,
    report_id: uuid.UUID,
    collected_at: dt.datetime,
    agent_collected_at: dt.datetime,
    received_at: dt.datetime,
    digest: str,
    snapshot_id: int | None,
    agent_version: str,
    evaluated_at: dt.datetime | None,
    is_newer: bool,
    dropped: int,
    dead_lettered: int = 0,
) -> int | None:
    """Insert the check-in unless its report_id is known, and only then touch the device;
    the id of the new row, or None for a replay.

    ON CONFLICT is the only race-free way to make a replay a no-op, and one statement with
    data-modifying CTEs is atomic without a transaction. The facts columns move only
    forward even when two reports of one device race: `is_newer` was judged on the row
    read at authentication, and the CASE re-checks it against the row being updated."""
    row = fetch_one_prepared(
        f"""
        WITH accepted AS (
            INSERT INTO {CheckIn._meta.db_table}
                (device_id, report_id, collected_at, agent_collected_at, received_at, facts_hash,
                 agent_version, evaluated_at)
            VALUES (%(device)s, %(report)s, %(collected)s, %(agent_collected)s, %(received)s, %(digest)s,
                    %(agent_version)s, %(evaluated)s)
            ON CONFLICT (report_id, agent_collected_at) DO NOTHING
            RETURNING id
        ), touched AS (
            UPDATE {Device._meta.db_table} SET
                last_seen_at = %(received)s,
                agent_version = %(agent_version)s,
                dropped_reports = LEAST(dropped_reports::bigint + %(dropped)s, {COUNTER_MAX}),
                dead_lettered_reports = LEAST(
                    dead_lettered_reports::bigint + %(dead_lettered)s, {COUNTER_MAX}
                ),
                facts_collected_at = CASE WHEN {_NEWER} THEN %(collected)s ELSE facts_collected_at END,
                facts_hash = CASE WHEN {_NEWER} THEN %(digest)s ELSE facts_hash END,
                current_facts_id = CASE WHEN {_NEWER} THEN %(snapshot)s ELSE current_facts_id END,
                -- Read from the snapshot only when the facts change (SET sees the old facts_hash):
                -- the common check-in repeats known facts and leaves the column as it is.
                chrome_version = CASE WHEN {_NEWER} AND facts_hash IS DISTINCT FROM %(digest)s
                    THEN {_CHROME_VERSION} ELSE chrome_version END
            WHERE id = %(device)s AND EXISTS (SELECT 1 FROM accepted)
        )
        SELECT id FROM accepted
        """,
        {
            "device": device_id,
            "report": report_id,
            "collected": collected_at,
            "agent_collected": agent_collected_at,
            "received": received_at,
            "digest": digest,
            "snapshot": snapshot_id,
            "agent_version": agent_version,
            "evaluated": evaluated_at,
            "is_newer": is_newer,
            "dropped": dropped,
            "dead_lettered": dead_lettered,
        },
    )
    return row[0] if row else None


_NEWER = "%(is_newer)s AND (facts_collected_at IS NULL OR facts_collected_at <= %(collected)s)"
# Device.chrome_version: `chrome.version` of the new current facts (report.schema.json), blank
# when not reported. The same expression backfilled it (migration 0009).
_CHROME_VERSION = (
    "COALESCE((SELECT left(snapshot.facts -> 'chrome' ->> 'version', 50)"
    f" FROM {FactSnapshot._meta.db_table} snapshot WHERE snapshot.id = %(snapshot)s), '')"
)
