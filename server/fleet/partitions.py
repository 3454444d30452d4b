"""The check-in table's daily partitions: made ahead of time, dropped whole when past retention.

A floor of 50,000 seats reporting every minute writes 72 million check-ins a day; deleting
a day of them row by row (as the purge did) costs as much as writing them did and leaves the
table and its indexes bloated until VACUUM catches up. Partitioned by day (see CheckIn), a
day past retention is one DROP TABLE.

Partitions hold [day 00:00 UTC, next day 00:00 UTC) of `agent_collected_at`. A report whose
time has no partition (an agent clock days off, a report spooled longer than retention)
goes to the default partition, which the purge clears row by row; it stays small. Creating a
partition moves the default partition's rows for that day into it first, as PostgreSQL
refuses to attach a partition whose rows sit in the default one.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import connection, transaction

from server.fleet.models import CheckIn

log = logging.getLogger(__name__)

TABLE = CheckIn._meta.db_table
DEFAULT_PARTITION = f"{TABLE}_default"
# Partitions made ahead of today, so midnight never finds its partition missing even if the
# hourly job did not run for a while.
DAYS_AHEAD = 3


def partition_name(day: dt.date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
    return start, start + dt.timedelta(days=1)


def daily_partitions() -> dict[dt.date, str]:
    """The daily partitions that exist, by day."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    prefix = f"{TABLE}_p"
    days = {}
    for name in names:
        if name.startswith(prefix):
            days[dt.datetime.strptime(name[len(prefix):], "%Y%m%d").date()] = name
    return days


def create_partition(day: dt.date) -> bool:
    """Make the partition of `day` unless it exists; True when it was made."""
    if day in daily_partitions():
        return False
    name = partition_name(day)
    start, end = day_bounds(day)
    with transaction.atomic(), connection.cursor() as cursor:
        # Two purges at once (beat run twice by mistake) must not both make it.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [TABLE])
        cursor.execute("SELECT to_regclass(%s)", [name])
        if cursor.fetchone()[0] is not None:
            return False
        cursor.execute(f'CREATE TABLE "{name}" (LIKE "{TABLE}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
        cursor.execute(
            f'WITH moved AS (DELETE FROM "{DEFAULT_PARTITION}" WHERE agent_collected_at >= %s'
            f' AND agent_collected_at < %s RETURNING *) INSERT INTO "{name}" SELECT * FROM moved',
            [start, end],
        )
        cursor.execute(f'ALTER TABLE "{TABLE}" ATTACH PARTITION "{name}" FOR VALUES FROM (%s) TO (%s)',
                       [start, end])
    return True


@dataclass
class Maintenance:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    default_rows_purged: int = 0


def maintain(now: dt.datetime, retention_days: int, days_ahead: int = DAYS_AHEAD) -> Maintenance:
    """The hourly job: partitions for today and `days_ahead` days, the partitions wholly older
    than the retention dropped, and old rows of the default partition deleted."""
    done = Maintenance()
    today = now.astimezone(dt.timezone.utc).date()
    for offset in range(days_ahead + 1):
        day = today + dt.timedelta(days=offset)
        if create_partition(day):
            done.created.append(partition_name(day))
    cutoff = now - dt.timedelta(days=retention_days)
    for day, name in sorted(daily_partitions().items()):
        _, end = day_bounds(day)
        if end <= cutoff:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
            done.dropped.append(name)
    # Rows the default partition caught (clocks far off) go by receive time, as before
    # partitioning; unevaluated ones wait for the sweep.
    with connection.cursor() as cursor:
        cursor.execute(
            f'DELETE FROM "{DEFAULT_PARTITION}" WHERE received_at < %s AND evaluated_at IS NOT NULL', [cutoff]
        )
        done.default_rows_purged = cursor.rowcount
    if done.created or done.dropped:
        log.info("check-in partitions: made %s, dropped %s", done.created or "none", done.dropped or "none")
    return done
