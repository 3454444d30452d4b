"""The agent's run loop: collect facts, queue a check-in, deliver the queue oldest-first.

Two clocks drive it. *Collection* happens every ``next_checkin_s`` seconds (the server's
choice, ±10 % jitter so a floor that booted together does not report together). *Delivery*
happens right after each collection. While the server does not answer, the agent retries on
a capped exponential backoff with full jitter (a random wait between 1 s and 5 s·2ⁿ, at most
5 min) *and* right after every fresh collection, so a seat reports again within one interval
of the server's return however long the outage was. Reports collected meanwhile wait in the
spool and are replayed oldest-first at a bounded pace (:data:`DRAIN_RATE_PER_INTERVAL`
reports per interval), so a floor coming back does not stampede the server; a ``429`` or
``503`` with ``Retry-After`` is honoured to the second.

A report the server will never take — a 4xx naming a field, or a plain 5xx for the same
report :data:`SERVER_ERROR_LIMIT` times — is moved to the spool's dead letters with the
server's answer and counted in the next check-in (``dead_lettered_reports``); the reports
behind it flow on. 502/503/504, 429, timeouts and refused connections are never held
against a report.

Everything with a side effect outside the process — the clock, waiting, collecting facts, the
HTTP client — is injectable, so the loop is tested against a real HTTP server without sleeping.
"""

from __future__ import annotations

import logging
import platform
import random
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from . import __version__, report
from .client import (
    AgentAPIError,
    AgentClient,
    AgentConfig,
    CheckinResponse,
    FactsRequired,
    NodeInvalid,
    Rejected,
    ServerError,
    Unavailable,
)
from .config import AgentSettings, StateDir
from .spool import Spool, SpoolEntry

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 60
MIN_INTERVAL_S = 5
MAX_INTERVAL_S = 24 * 3600
BACKOFF_BASE_S = 5.0
BACKOFF_CAP_S = 300.0
# Full jitter can draw ~0; a floor keeps a loop from spinning.
BACKOFF_FLOOR_S = 1.0
# A report answered with a plain 5xx (500, not 502/503/504) this many times is poison.
SERVER_ERROR_LIMIT = 5
# The spool drains at most this many reports per interval (one of them the fresh one), at
# most one at a time: the floor's peak after an outage stays near this multiple of its
# steady rate, while a backlog still shrinks by 1.5 reports per interval (bench/reconnect).
DRAIN_RATE_PER_INTERVAL = 2.5
DRAIN_BURST = 1.0
JITTER = 0.10
CONFIG_REFRESH_S = 3600.0
CONFIG_RETRY_S = 300.0

CollectFacts = Callable[[], "dict[str, Any]"]


class NotEnrolled(Exception):
    """The agent has no node key and cannot get one (no server or enrol secret configured,
    or the server refused the secret)."""


def collect_live_facts() -> dict[str, Any]:
    """Facts about this workstation from the real collectors."""
    # Imported here: the collectors pull in per-OS modules the rest of the agent (and the
    # simulator running on a server) never needs.
    from .collectors import collect
    from .host import live_host

    return collect(live_host())


def host_details(facts: dict[str, Any] | None) -> dict[str, Any]:
    """The enrolment's ``host_details``, from the facts when they say it, else from Python."""
    host = (facts or {}).get("host") or {}
    os_name = host.get("os") or {"win32": "windows", "darwin": "macos"}.get(sys.platform, "linux")
    return {
        "hostname": (host.get("hostname") or socket.gethostname() or "unknown")[:255],
        "os": os_name,
        "os_version": (host.get("os_version") or platform.release() or None),
        "agent_version": __version__,
    }


def enroll(
    client: AgentClient,
    state: StateDir,
    settings: AgentSettings,
    facts: dict[str, Any] | None,
) -> str:
    """Enrol with the server, remember the node key (mode 0600) and return it."""
    if not settings.enroll_secret:
        raise NotEnrolled(
            "this workstation is not enrolled and no enrol secret is configured; run "
            "'readyfloor-agent enroll --server URL --secret SECRET' or set READYFLOOR_ENROLL_SECRET"
        )
    serial = ((facts or {}).get("host") or {}).get("serial")
    enrollment = client.enroll(
        enroll_secret=settings.enroll_secret,
        host_identifier=state.host_identifier(serial),
        host_details=host_details(facts),
        seat=settings.seat.to_dict() if settings.seat else None,
        previous_node_key=state.node_key() or state.previous_node_key(),
        claim_token=state.claim_token(),
    )
    state.save_node_key(enrollment.node_key)
    # A new enrolment may be a new device row on the server: it holds none of our facts.
    state.update(
        server=client.base_url,
        device_id=enrollment.device_id,
        seat=enrollment.seat,
        enroll_warning=enrollment.warning,
        last_acknowledged_hash=None,
        next_checkin_s=enrollment.next_checkin_s or state.get("next_checkin_s"),
    )
    log.info("enrolled with %s as device %s", client.base_url, enrollment.device_id)
    if enrollment.warning:
        log.warning("the server says: %s", enrollment.warning)
    return enrollment.node_key


@dataclass
class ServiceCounters:
    collected: int = 0
    collect_failures: int = 0
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    dead_lettered: int = 0
    facts_resent: int = 0
    reenrolled: int = 0
    unavailable: int = 0


class AgentService:
    """The long-running agent. ``run()`` returns when :meth:`stop` is called (SIGTERM)."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        state: StateDir | None = None,
        client: AgentClient | None = None,
        collect_facts: CollectFacts | None = None,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], Any] | None = None,
        rng: random.Random | None = None,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        config_refresh_s: float = CONFIG_REFRESH_S,
        server_error_limit: int = SERVER_ERROR_LIMIT,
        drain_rate_per_interval: float = DRAIN_RATE_PER_INTERVAL,
    ) -> None:
        if not settings.server:
            raise NotEnrolled("no server configured: set 'server' in the settings file or READYFLOOR_SERVER")
        self.settings = settings
        self.state = (state or StateDir(settings.state_dir)).ensure()
        self.client = client or AgentClient(
            settings.server, timeout=settings.timeout, ca_file=settings.ca_file
        )
        self.spool: Spool = self.state.spool(
            max_entries=settings.spool_max_entries, max_bytes=settings.spool_max_bytes
        )
        self.collect_facts = collect_facts or collect_live_facts
        self.clock = clock
        self._stop = threading.Event()
        self.wait = wait or self._stop.wait
        self.rng = rng or random.Random()
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.config_refresh_s = config_refresh_s
        self.server_error_limit = server_error_limit
        self.drain_rate_per_interval = drain_rate_per_interval
        self.counters = ServiceCounters()
        self.failures = 0
        self.last_error: str | None = None
        self._latest_facts: dict[str, Any] | None = None
        self._next_collect_at = 0.0
        self._next_send_at = 0.0
        # The server's Retry-After: nothing is sent before this moment, fresh collection or not.
        self._not_before = 0.0
        self._send_tokens = DRAIN_BURST
        self._tokens_at = clock()
        self._config_fetched_at: float | None = None
        self._config_retry_at = 0.0
        self._forget_other_server()

    # -- public loop -----------------------------------------------------------------------

    def run(self) -> ServiceCounters:
        log.info(
            "agent %s reporting to %s; state in %s; %d report(s) waiting in the spool",
            __version__,
            self.settings.server,
            self.state.path,
            len(self.spool),
        )
        while not self._stop.is_set():
            try:
                delay = self.step()
            except Exception:
                # A full disk or a bug must not end reporting for good: log it, wait, try again,
                # without collecting more often than the interval meanwhile.
                log.exception("the agent's loop failed; retrying")
                self.failures += 1
                delay = self.backoff_delay()
                self._next_collect_at = max(
                    self._next_collect_at, self.clock() + self.jittered(self.interval_s)
                )
            if self.wait(delay) is True:
                break
        log.info("agent stopped; %d report(s) kept in the spool for next time", len(self.spool))
        return self.counters

    def stop(self) -> None:
        self._stop.set()

    def step(self) -> float:
        """One turn of the loop; returns how long to wait before the next turn."""
        collected = False
        if self.clock() >= self._next_collect_at:
            self.collect_and_queue()
            collected = True
            if self.failures:
                # A fresh collection is a fresh chance: the server may be back, and waiting
                # out a long backoff would keep the seat dark for minutes after it returned.
                self._next_send_at = max(self.clock(), self._not_before)
        if len(self.spool) and self.clock() >= self._next_send_at:
            self._deliver(paced=True)
        if self.failures == 0:
            self._maybe_refresh_config()
        if collected:
            # Scheduled after the delivery so that a new next_checkin_s applies at once.
            self._next_collect_at = self.clock() + self.jittered(self.interval_s)
        due = self._next_collect_at
        if len(self.spool):
            due = min(due, self._next_send_at)
        return max(0.0, due - self.clock())

    # -- the two halves --------------------------------------------------------------------

    def collect_and_queue(self) -> SpoolEntry | None:
        try:
            facts = self.collect_facts()
        except Exception:
            # Collectors turn every failed read into an 'unknown'; reaching here is a bug,
            # and one bad collection must not stop the agent from reporting the next one.
            self.counters.collect_failures += 1
            log.exception("collecting facts failed; skipping this report")
            return None
        self._latest_facts = facts
        self.counters.collected += 1
        body = report.build_checkin(facts, last_acknowledged_hash=self.state.get("last_acknowledged_hash"))
        try:
            return self.spool.put(body, facts=facts)
        except OSError as error:
            log.error("cannot write to the spool %s (%s); this report is lost", self.spool.directory, error)
            return None

    def drain(self) -> bool:
        """Send queued reports oldest-first, as fast as the server takes them, until the spool
        is empty (True) or the server cannot take more now (False; the rest stay queued)."""
        return self._deliver(paced=False) == "empty"

    def _deliver(self, *, paced: bool) -> str:
        """Send queued reports oldest-first; "empty", "unavailable" (the next attempt is
        scheduled on the backoff or the server's Retry-After) or "paced" (the drain budget
        is spent; the next report goes when a token is back)."""
        outcome = self._send_queued(paced=paced)
        if outcome == "unavailable":
            self.failures += 1
            self._next_send_at = max(self.clock() + self.backoff_delay(), self._not_before)
            log.warning(
                "server unavailable (%s); %d report(s) spooled; retrying in %.0fs",
                self.last_error,
                len(self.spool),
                self._next_send_at - self.clock(),
            )
        return outcome

    def _send_queued(self, *, paced: bool) -> str:
        charged: set[int] = set()
        outcome = self._send_queued_charging(paced=paced, charged=charged)
        if outcome == "unavailable" and charged:
            # The report did not get through: the backoff, not the drain budget, decides
            # when to try it again, and the first report after the return goes at once.
            self._send_tokens = min(DRAIN_BURST, self._send_tokens + 1.0)
        return outcome

    def _send_queued_charging(self, *, paced: bool, charged: set[int]) -> str:
        reenrolled = False
        resent_full: set[str] = set()
        while not self._stop.is_set():
            entry = self.spool.peek_oldest()
            if entry is None:
                self.failures = 0
                self._next_send_at = self.clock()
                return "empty"
            if paced and entry.sequence not in charged:
                # One token per report, not per request: a re-enrolment or a facts resend
                # finishes the report it started.
                wait = self._take_send_token()
                if wait > 0:
                    self._next_send_at = max(self.clock() + wait, self._not_before)
                    return "paced"
                charged.add(entry.sequence)
            try:
                node_key = self._node_key()
            except (NotEnrolled, Rejected, Unavailable) as error:
                self._note_failure(error)
                if isinstance(error, (NotEnrolled, Rejected)):
                    log.error("cannot enrol: %s", error)
                return "unavailable"
            body = dict(entry.body)
            dropped = self.spool.dropped
            if dropped:
                body["dropped_reports"] = dropped
            else:
                body.pop("dropped_reports", None)
            dead_lettered = self.spool.dead_lettered
            if dead_lettered:
                body["dead_lettered_reports"] = dead_lettered
            else:
                body.pop("dead_lettered_reports", None)
            try:
                self.counters.sent += 1
                response = self.client.checkin(node_key, body)
            except NodeInvalid as error:
                log.warning("the server no longer knows this agent (%s); enrolling again", error)
                self.state.forget_node_key()
                if reenrolled:
                    self._note_failure(error)
                    return False
                reenrolled = True
                self.counters.reenrolled += 1
                continue
            except FactsRequired as error:
                if entry.report_id in resent_full or entry.facts is None or "facts" in entry.body:
                    self._reject(entry, error)
                    continue
                resent_full.add(entry.report_id)
                self.counters.facts_resent += 1
                full = {key: value for key, value in entry.body.items() if key != "facts_hash"}
                full["facts"] = entry.facts
                self.spool.replace(entry, full)
                log.info("server asked for full facts of report %s; resending", entry.report_id)
                continue
            except Rejected as error:
                self._reject(entry, error)
                continue
            except ServerError as error:
                self.counters.unavailable += 1
                entry = self.spool.note_server_error(entry)
                if entry.server_errors >= self.server_error_limit:
                    self._dead_letter(entry, error)
                    continue
                self._note_failure(error)
                return "unavailable"
            except Unavailable as error:
                self.counters.unavailable += 1
                self._note_failure(error)
                return "unavailable"
            self._acknowledged(entry, response, dropped, dead_lettered)
            if self.failures and paced:
                self._stagger_backlog()
        return "unavailable"

    # -- pieces ----------------------------------------------------------------------------

    @property
    def interval_s(self) -> float:
        value = self.state.get("next_checkin_s") or DEFAULT_INTERVAL_S
        try:
            return float(min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, float(value))))
        except (TypeError, ValueError):
            return float(DEFAULT_INTERVAL_S)

    def jittered(self, seconds: float) -> float:
        return seconds * self.rng.uniform(1 - JITTER, 1 + JITTER)

    def backoff_delay(self) -> float:
        """Capped exponential backoff with full jitter: agents that lost the server at the
        same moment do not come back at the same moment."""
        exponent = max(0, self.failures - 1)
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * (2 ** min(exponent, 30)))
        return self.rng.uniform(min(BACKOFF_FLOOR_S, ceiling), ceiling)

    def _stagger_backlog(self) -> None:
        """The first report after an outage went through: start the backlog after a random
        part of an interval. Seats return over one interval; were each to drain at once, the
        returning ones would add up with the draining ones to 3.5x the steady rate. The next
        steady report still finds its token (the debt is less than one interval's refill)."""
        self.failures = 0
        debt = self.rng.uniform(0.0, max(0.0, self.drain_rate_per_interval - 1.0))
        self._send_tokens = min(self._send_tokens, 0.0) - debt

    def _take_send_token(self) -> float:
        """Spend one token of the drain budget: 0 when there was one, else the seconds until
        there is. The budget refills at drain_rate_per_interval per interval, so the steady
        report of every interval always finds a token."""
        now = self.clock()
        rate = self.drain_rate_per_interval / self.interval_s
        self._send_tokens = min(DRAIN_BURST, self._send_tokens + max(0.0, now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._send_tokens >= 1.0 - 1e-6:  # float sums of refills fall just short of 1
            self._send_tokens = max(0.0, self._send_tokens - 1.0)
            return 0.0
        return max(0.001, (1.0 - self._send_tokens) / rate)

    def _node_key(self) -> str:
        key = self.state.node_key()
        if key:
            return key
        return enroll(self.client, self.state, self.settings, self._latest_facts)

    def _acknowledged(
        self, entry: SpoolEntry, response: CheckinResponse, dropped: int, dead_lettered: int = 0
    ) -> None:
        self.spool.ack(entry)
        self.spool.acknowledge_dropped(dropped)
        self.spool.acknowledge_dead_lettered(dead_lettered)
        if response.duplicate:
            self.counters.duplicates += 1
        else:
            self.counters.accepted += 1
        acknowledged_hash = entry.body.get("facts_hash")
        if entry.facts is not None:
            acknowledged_hash = report.facts_hash(entry.facts)
        elif isinstance(entry.body.get("facts"), dict):
            acknowledged_hash = report.facts_hash(entry.body["facts"])
        changes: dict[str, Any] = {"last_acknowledged_hash": acknowledged_hash, "last_error": None}
        changes["last_acknowledged_at"] = report.isoformat(report.utc_now())
        if response.next_checkin_s:
            changes["next_checkin_s"] = response.next_checkin_s
        self.state.update(**changes)
        self.last_error = None
        cached = self.state.cached_config() or {}
        changed = response.config_version and response.config_version != cached.get("config_version")
        if changed and self.clock() >= self._config_retry_at:
            self.refresh_config()

    def refresh_config(self) -> AgentConfig | None:
        """Fetch the policy and cache it for the local self-check; failures keep the cache."""
        key = self.state.node_key()
        if not key:
            return None
        self._config_fetched_at = self.clock()
        try:
            config = self.client.config(key)
        except (Unavailable, NodeInvalid, Rejected) as error:
            # Not on every check-in: a server without a working config endpoint would double
            # the agent's traffic.
            self._config_retry_at = self.clock() + CONFIG_RETRY_S
            log.warning("could not fetch the seat's policy (%s); keeping the cached one", error)
            return None
        self.state.save_config(config.to_dict())
        if config.next_checkin_s:
            self.state.update(next_checkin_s=config.next_checkin_s)
        log.info("policy %s cached", config.config_version)
        return config

    def _maybe_refresh_config(self) -> None:
        # The check-in answer's config_version triggers a fetch when the policy changes; this
        # catches a missing cache and a server that does not bump the version.
        if not self.state.node_key():
            return
        if self._config_fetched_at is None:
            if self.state.cached_config() is None:
                self.refresh_config()
            else:
                self._config_fetched_at = self.clock()
        elif self.clock() - self._config_fetched_at >= self.config_refresh_s:
            self.refresh_config()

    def _reject(self, entry: SpoolEntry, error: AgentAPIError) -> None:
        path = self.spool.reject(entry, error.answer())
        self.counters.rejected += 1
        self.counters.dead_lettered += 1
        log.error(
            "the server REJECTED report %s for good; it was set aside in %s with the answer: %s. "
            "This is a bug in the agent or a schema mismatch with the server; "
            "capture a support bundle ('readyfloor-agent bundle').",
            entry.report_id,
            path,
            error,
        )

    def _dead_letter(self, entry: SpoolEntry, error: AgentAPIError) -> None:
        path = self.spool.dead_letter(entry, error.answer())
        self.counters.dead_lettered += 1
        log.error(
            "the server failed on report %s %d times (%s); it was set aside in %s so the "
            "reports behind it can go. Requeue it with 'readyfloor-agent requeue-dead' once "
            "the server is fixed.",
            entry.report_id,
            entry.server_errors,
            error,
            path,
        )

    def _note_failure(self, error: Exception) -> None:
        self.last_error = str(error)
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            # Honour the server's Retry-After, spread by up to 10 % so the seats it told to
            # wait the same time do not all come back in the same second.
            self._not_before = self.clock() + retry_after * self.rng.uniform(1.0, 1.1)
        self.state.update(last_error=self.last_error)

    def _forget_other_server(self) -> None:
        enrolled_with = self.state.get("server")
        if enrolled_with and self.settings.server and enrolled_with != self.settings.server.rstrip("/"):
            log.warning(
                "enrolled with %s but configured for %s; enrolling with the new server",
                enrolled_with,
                self.settings.server,
            )
            self.state.forget_node_key()
            self.state.update(server=None, last_acknowledged_hash=None, device_id=None)


def install_signal_handlers(service: AgentService) -> None:
    """SIGTERM (service managers), SIGINT (Ctrl-C) and SIGBREAK (Windows console) stop the loop
    between two steps; anything not yet acknowledged stays in the spool."""

    def handle(signum: int, _frame: Any) -> None:
        log.info("signal %d received; stopping", signum)
        service.stop()

    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, handle)
