"""What a digest says, in each channel's format: ReadyFloor JSON, Slack, Teams, email.

`DigestContent` is built once from the stored digest; each format is a pure function of it, so
the body stored on a Delivery (and replayed byte for byte) is decided in one place.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from dataclasses import asdict, dataclass, field
from typing import Any

from server.fleet.models import Readiness

# Slack allows 50 blocks and 3000 characters per section; Teams cards get slow past a few
# dozen lines. The full list is always in the ReadyFloor JSON and the email.
CHAT_SEATS_LISTED = 15
READINESS_LABELS = dict(Readiness.choices)


@dataclass
class SeatChange:
    seat_id: int
    label: str
    from_readiness: str
    to_readiness: str
    at: str
    reason: str
    failing: list[dict[str, Any]]
    url: str


@dataclass
class FloorCrossing:
    state: str  # "below" or "recovered"
    percent: float
    threshold: int
    at: str


@dataclass
class DigestContent:
    idempotency_key: str
    rule: str
    site: str
    floor_id: int
    floor: str
    window_start: str
    window_end: str
    floor_url: str
    # The site's IANA zone: people read times in it; the JSON keeps UTC.
    timezone: str = "UTC"
    seats_down: list[SeatChange] = field(default_factory=list)
    seats_recovered: list[SeatChange] = field(default_factory=list)
    floor_threshold: FloorCrossing | None = None
    acknowledged: int = 0
    # Enrolments that claimed an occupied seat or an enrolled host's identity (one line each).
    enrolment_claims: list[str] = field(default_factory=list)

    def local(self, iso_time: str, with_day: bool = True) -> str:
        """'Mon 30 Nov 09:01' in the site's zone (an unknown zone falls back to UTC)."""
        try:
            zone: dt.tzinfo = zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = dt.timezone.utc
        moment = dt.datetime.fromisoformat(iso_time.replace("Z", "+00:00")).astimezone(zone)
        return moment.strftime("%a %d %b %H:%M:%S" if with_day else "%H:%M:%S")

    @property
    def window_text(self) -> str:
        start, end = self.local(self.window_start), self.local(self.window_end, with_day=False)
        return f"{start} to {end} ({self.timezone})"

    @property
    def summary(self) -> str:
        parts = []
        if self.seats_down:
            parts.append(f"{_seats(len(self.seats_down))} NOT READY or OFFLINE")
        if self.seats_recovered:
            parts.append(f"{_seats(len(self.seats_recovered))} recovered")
        if self.floor_threshold:
            crossing = self.floor_threshold
            where = "under" if crossing.state == "below" else "back at or over"
            parts.append(
                f"{crossing.percent:.0f} % of seats ready, {where} the {crossing.threshold} % threshold"
            )
        if self.enrolment_claims:
            parts.append(f"{len(self.enrolment_claims)} enrolment claim(s) to review")
        text = "; ".join(parts) or "no changes"
        return f"{self.floor} ({self.site}): {text}"


def sample_content(base_url: str) -> DigestContent:
    """A made-up digest for "send a test message": two seats down, clearly marked as a test."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    content = DigestContent(
        idempotency_key="test-" + now.strftime("%Y%m%dT%H%M%SZ"),
        rule="Test message",
        site="Test site",
        floor_id=0,
        floor="Test floor",
        window_start=iso(now - dt.timedelta(minutes=1)),
        window_end=iso(now),
        floor_url=f"{base_url}/",
    )
    for label, reason in (
        ("T-01", "Test: microphone set to Block for the CTI site"),
        ("T-02", "Test: no headset among the capture devices"),
    ):
        content.seats_down.append(
            SeatChange(0, label, "ready", "not_ready", iso(now), reason, [], f"{base_url}/")
        )
    return content


def readyfloor_json(content: DigestContent) -> str:
    """The signed webhook body: everything in the digest, for machines."""
    body = {
        "type": "readyfloor.alert.digest",
        "idempotency_key": content.idempotency_key,
        "summary": content.summary,
        "rule": content.rule,
        "site": content.site,
        "floor": {"id": content.floor_id, "name": content.floor, "url": content.floor_url},
        "window": {"start": content.window_start, "end": content.window_end},
        "seats_down": [asdict(change) for change in content.seats_down],
        "seats_recovered": [asdict(change) for change in content.seats_recovered],
        "floor_threshold": asdict(content.floor_threshold) if content.floor_threshold else None,
        "acknowledged_changes_not_listed": content.acknowledged,
        "enrolment_claims": content.enrolment_claims,
    }
    return json.dumps(body, sort_keys=True)


def slack_json(content: DigestContent) -> str:
    """A Slack incoming-webhook message: `text` (the notification line) and Block Kit blocks."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"ReadyFloor · {content.floor}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(content.summary)}},
    ]
    for title, changes in (("Down", content.seats_down), ("Recovered", content.seats_recovered)):
        if changes:
            lines = [
                f"• <{change.url}|{_slack_escape(change.label)}> {_label(change.to_readiness)}: "
                + _slack_escape(change.reason)
                for change in changes[:CHAT_SEATS_LISTED]
            ]
            if len(changes) > CHAT_SEATS_LISTED:
                lines.append(f"… and {len(changes) - CHAT_SEATS_LISTED} more")
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": (f"*{title}*\n" + "\n".join(lines))[:3000]},
                }
            )
    if content.enrolment_claims:
        lines = [f"• {_slack_escape(claim)}" for claim in content.enrolment_claims[:CHAT_SEATS_LISTED]]
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": ("*Enrolment claims*\n" + "\n".join(lines))[:3000]},
            }
        )
    context = f"<{content.floor_url}|Open the floor> · {content.window_text}"
    if content.acknowledged:
        context += f" · {content.acknowledged} acknowledged change(s) not listed"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return json.dumps({"text": content.summary, "blocks": blocks})


def teams_json(content: DigestContent) -> str:
    """A Teams Workflows ("When a Teams webhook request is received") message: one Adaptive Card."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Medium",
            "weight": "Bolder",
            "text": f"ReadyFloor · {content.floor}",
            "wrap": True,
        },
        {"type": "TextBlock", "text": content.summary, "wrap": True},
    ]
    for title, changes in (("Down", content.seats_down), ("Recovered", content.seats_recovered)):
        if changes:
            facts = [
                {"title": change.label, "value": f"{_label(change.to_readiness)}: {change.reason}"}
                for change in changes[:CHAT_SEATS_LISTED]
            ]
            if len(changes) > CHAT_SEATS_LISTED:
                facts.append({"title": "…", "value": f"and {len(changes) - CHAT_SEATS_LISTED} more"})
            body += [
                {"type": "TextBlock", "weight": "Bolder", "text": title},
                {"type": "FactSet", "facts": facts},
            ]
    if content.enrolment_claims:
        body.append({"type": "TextBlock", "weight": "Bolder", "text": "Enrolment claims"})
        body += [{"type": "TextBlock", "wrap": True, "text": claim} for claim in content.enrolment_claims]
    if content.acknowledged:
        body.append({"type": "TextBlock", "isSubtle": True, "wrap": True,
                     "text": f"{content.acknowledged} acknowledged change(s) not listed."})  # fmt: skip
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open the floor", "url": content.floor_url}],
    }
    message = {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
    return json.dumps(message)


def email_text(content: DigestContent) -> tuple[str, str]:
    """(subject, plain-text body) with every seat listed."""
    subject = f"[ReadyFloor] {content.summary}"[:250]
    lines = [content.summary, "", f"Window: {content.window_text}", ""]
    for title, changes in (("Seats down", content.seats_down), ("Seats recovered", content.seats_recovered)):
        if changes:
            lines.append(f"{title} ({len(changes)}):")
            for change in changes:
                lines.append(
                    f"  {change.label}: {_label(change.from_readiness)} → {_label(change.to_readiness)}"
                    f" at {content.local(change.at, with_day=False)}"
                )
                lines.append(f"      {change.reason}")
                lines.append(f"      {change.url}")
            lines.append("")
    if content.enrolment_claims:
        lines.append(f"Enrolment claims ({len(content.enrolment_claims)}), review them in the admin:")
        lines += [f"  {claim}" for claim in content.enrolment_claims]
        lines.append("")
    if content.acknowledged:
        lines += [f"{content.acknowledged} acknowledged change(s) are not listed.", ""]
    lines += [
        f"Open the floor: {content.floor_url}",
        f"Rule: {content.rule}",
        f"Reference: {content.idempotency_key}",
    ]
    return subject, "\n".join(lines) + "\n"


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _label(readiness: str) -> str:
    return str(READINESS_LABELS.get(readiness, readiness)).upper()


def _seats(count: int) -> str:
    return f"{count} seat" + ("" if count == 1 else "s")


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
