"""What a report covers (a site, a floor, a team on a floor) and who may see it.

Built on server.roles.scope: a report is visible to an account that sees *every* seat it covers,
so a supervisor of one floor gets that floor's reports (and its teams'), never a site report that
would show them another floor, nor another floor's report. IT admins and auditors see them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from server.fleet.models import Floor, Seat, Site
from server.reports.models import ScopeKind
from server.roles import scope as roles

SCOPE_HELP = "site:<id|name>, floor:<id|name> or team:<floor id|name>/<team>"


class ScopeError(ValueError):
    """A scope that does not parse or names nothing; the message says which part."""


@dataclass(frozen=True)
class Scope:
    kind: str
    site: Site
    floor: Floor | None = None
    team: str = ""

    @property
    def label(self) -> str:
        if self.kind == ScopeKind.SITE:
            return f"site {self.site.name}"
        if self.kind == ScopeKind.FLOOR:
            return f"floor {self.floor}"
        return f"team {self.team} on {self.floor}"

    @property
    def title(self) -> str:
        if self.kind == ScopeKind.SITE:
            return self.site.name
        assert self.floor is not None
        name = f"{self.site.name} / {self.floor.name}"
        return f"{name} · team {self.team}" if self.kind == ScopeKind.TEAM else name

    @property
    def slug(self) -> str:
        parts = (
            [self.site.name] + ([self.floor.name] if self.floor else []) + ([self.team] if self.team else [])
        )
        return "-".join("".join(c if c.isalnum() else "_" for c in part) for part in parts).lower()

    def seats(self) -> QuerySet[Seat]:
        if self.kind == ScopeKind.SITE:
            return Seat.objects.filter(floor__site=self.site)
        seats = Seat.objects.filter(floor=self.floor)
        return seats.filter(team=self.team) if self.kind == ScopeKind.TEAM else seats

    def floors(self) -> list[Floor]:
        return list(self.site.floors.all()) if self.kind == ScopeKind.SITE else [self.floor]  # type: ignore[list-item]

    def fields(self) -> dict[str, Any]:
        """The scope as the fields of a ScopedModel (a schedule or a run)."""
        return {"scope_kind": self.kind, "site": self.site, "floor": self.floor, "team": self.team}

    def parameters(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "site_id": self.site.pk,
            "floor_id": self.floor.pk if self.floor else None,
            "team": self.team,
            "label": self.label,
        }

    @classmethod
    def of(cls, scoped: Any) -> Scope:
        """The scope of a schedule or run."""
        return cls(kind=scoped.scope_kind, site=scoped.site, floor=scoped.floor, team=scoped.team)

    @classmethod
    def parse(cls, text: str) -> Scope:
        """`site:Lyon contact centre`, `floor:3`, `floor:Floor 1`, `floor:Lyon contact centre/Floor 1`,
        `team:Floor 1/Sales`. A floor name shared by two sites must be given with its site."""
        kind, sep, value = (text or "").partition(":")
        kind, value = kind.strip().lower(), value.strip()
        if not sep or kind not in ScopeKind.values or not value:
            raise ScopeError(f"{text!r} is not a scope; use {SCOPE_HELP}")
        if kind == ScopeKind.SITE:
            return cls(kind=kind, site=_site(value))
        if kind == ScopeKind.TEAM:
            floor_text, slash, team = value.rpartition("/")
            if not slash or not floor_text.strip() or not team.strip():
                raise ScopeError(f"a team scope is team:<floor id|name>/<team>, not {text!r}")
            floor = _floor(floor_text.strip())
            return cls(kind=kind, site=floor.site, floor=floor, team=team.strip())
        floor = _floor(value)
        return cls(kind=kind, site=floor.site, floor=floor)


def _site(value: str) -> Site:
    site = Site.objects.filter(pk=int(value)).first() if value.isdigit() else None
    site = site or Site.objects.filter(name=value).first()
    if site is None:
        raise ScopeError(f"no site {value!r}")
    return site


def _floor(value: str) -> Floor:
    if value.isdigit() and (floor := Floor.objects.select_related("site").filter(pk=int(value)).first()):
        return floor
    site_name, slash, floor_name = value.rpartition("/")
    floors = Floor.objects.select_related("site")
    matches = list(
        floors.filter(site__name=site_name.strip(), name=floor_name.strip())
        if slash
        else floors.filter(name=value)
    )
    if not matches:
        raise ScopeError(f"no floor {value!r}")
    if len(matches) > 1:
        raise ScopeError(f"{len(matches)} floors are named {value!r}: give its id or '<site>/<floor>'")
    return matches[0]


def _whole_floors(user: Any) -> set[int]:
    return {s.floor_id for s in roles.supervisions_of(user) if s.floor_id and not s.team}


def can_see(user: Any, scope: Scope) -> bool:
    """May this account read (and download, and receive) a report of this scope?"""
    if roles.sees_every_floor(user):
        return True
    if not roles.can_read_fleet(user):
        return False
    whole = _whole_floors(user)
    if scope.kind == ScopeKind.SITE:
        floor_ids = {floor.pk for floor in scope.floors()}
        return bool(floor_ids) and floor_ids <= whole
    assert scope.floor is not None
    if scope.floor.pk in whole:
        return True
    return scope.kind == ScopeKind.TEAM and any(
        s.team == scope.team and s.floor_id in (None, scope.floor.pk) for s in roles.supervisions_of(user)
    )


def visible_condition(user: Any) -> Q | None:
    """A filter on schedules or runs for what `can_see` allows; None means everything."""
    if roles.sees_every_floor(user):
        return None
    if not roles.can_read_fleet(user):
        return Q(pk__in=[])
    whole = _whole_floors(user)
    condition = Q(scope_kind__in=[ScopeKind.FLOOR, ScopeKind.TEAM], floor_id__in=whole)
    for supervision in roles.supervisions_of(user):
        if supervision.team:
            team = Q(scope_kind=ScopeKind.TEAM, team=supervision.team)
            condition |= team & Q(floor_id=supervision.floor_id) if supervision.floor_id else team
    # A site whose every floor the supervisor has whole (rare, but then the site report is theirs).
    sites = [
        site.pk
        for site in Site.objects.filter(floors__pk__in=whole).distinct().prefetch_related("floors")
        if {floor.pk for floor in site.floors.all()} <= whole
    ]
    if sites:
        condition |= Q(scope_kind=ScopeKind.SITE, site_id__in=sites)
    return condition


def visible(user: Any, queryset: QuerySet) -> QuerySet:
    condition = visible_condition(user)
    return queryset if condition is None else queryset.filter(condition)
