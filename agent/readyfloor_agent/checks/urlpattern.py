"""Chrome's content-settings URL patterns, matched the way Chrome matches them.

One grammar serves both places a seat's verdict depends on: the keys of the per-site
exceptions in a profile's ``Preferences`` (``"https://acme.my.salesforce.com:443,*"``) and the
URL lists of managed policy (``AudioCaptureAllowedUrls``, ``NotificationsBlockedForUrls``, ...).
It follows Chromium's ``content_settings::PatternParser::Parse`` and
``ContentSettingsPattern::{Builder::Validate, Matches, Compare}``:

- ``*`` alone matches everything.
- ``[scheme://][host][:port][/path]``; a missing scheme or ``*`` matches any scheme; only
  ``http`` and ``https`` are web schemes (anything else never matches a web origin here).
- host ``[*.]example.com`` matches example.com and every subdomain; ``*`` matches any host;
  a ``*`` anywhere else in the host makes the pattern invalid, and so does ``[*.].example.com``.
- a missing port or ``*`` matches any port; an explicit port is compared as written with the
  origin's port, where an origin without a port has its scheme's default (443, 80). So
  ``https://x.com:443`` matches ``https://x.com`` but ``https://x.com:0443`` matches nothing.
- the path of an http(s) pattern is ignored.

An invalid pattern matches nothing (Chrome logs it and moves on); callers get ``None`` from
``parse`` and can say so in evidence.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Callable, TypeVar
from urllib.parse import urlsplit

_WEB_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_DOMAIN_WILDCARD = "[*.]"
# GURL keeps these characters in a canonical host; anything else means Chrome would refuse it.
_HOST_CHARS = re.compile(r"^[a-z0-9._\-]+$")

T = TypeVar("T")


@dataclass(frozen=True)
class Origin:
    """A web origin as Chrome sees it: lower-case scheme and host, port as a decimal string
    (the scheme's default when the URL has none)."""

    scheme: str
    host: str
    port: str

    @classmethod
    def parse(cls, url: str) -> Origin | None:
        """``https://acme.my.salesforce.com`` (a path is allowed and dropped). A bare host is
        taken as https, the only scheme that can hold a microphone permission."""
        if not isinstance(url, str):
            return None
        text = url.strip()
        if not text or any(ch.isspace() for ch in text):
            return None
        if "://" not in text:
            text = "https://" + text
        try:
            parts = urlsplit(text)
            port_number = parts.port
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        if scheme not in _WEB_SCHEMES or not parts.hostname or parts.username or parts.password:
            return None
        raw_host = parts.hostname
        if raw_host.startswith("[") or ":" in raw_host:
            host = _canonical_ipv6(raw_host)
        else:
            host = _canonical_host(raw_host)
        if host is None or not host:
            return None
        port = str(port_number) if port_number is not None else _DEFAULT_PORTS[scheme]
        return cls(scheme, host, port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS.get(self.scheme):
            return f"{self.scheme}://{host}"
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class UrlPattern:
    """A parsed, valid content-settings pattern. ``scheme``/``port`` of ``None`` are wildcards;
    ``domain_wildcard`` with an empty ``host`` matches every host."""

    source: str
    scheme: str | None
    host: str
    domain_wildcard: bool
    port: str | None

    @classmethod
    def parse(cls, spec: str) -> UrlPattern | None:
        if not isinstance(spec, str):
            return None
        return _parse(spec)

    @property
    def is_full_wildcard(self) -> bool:
        """True for ``*`` and its spellings (``*://*:*``). Chrome ignores such an entry in
        ``AudioCaptureAllowedUrls``: a policy cannot hand the microphone to every site."""
        return self.scheme is None and self.domain_wildcard and not self.host and self.port is None

    def matches(self, origin: Origin) -> bool:
        if self.scheme is not None and self.scheme != origin.scheme:
            return False
        if self.domain_wildcard:
            if not _is_subdomain_or_equal(origin.host, self.host):
                return False
        elif self.host != origin.host:
            return False
        return self.port is None or self.port == origin.port

    def precedence(self) -> tuple[int, int, int, int]:
        """Sort key, most specific first, in Chrome's order of comparison: host, then port,
        then scheme. Among patterns that all match one origin this is the rule Chrome applies."""
        host_rank = 0 if not self.domain_wildcard else 1
        return (host_rank, -len(self.host), 0 if self.port is not None else 1, 0 if self.scheme else 1)


def _parse(spec: str) -> UrlPattern | None:
    if spec == "*":
        return UrlPattern(spec, None, "", True, None)
    if not spec:
        return None

    scheme_piece = ""
    start = 0
    separator = spec.find("://")
    if separator != -1:
        scheme_piece = spec[:separator]
        start = separator + 3
    if start >= len(spec):
        return None

    # A domain wildcard or an IPv6 literal contains ':' or '.', so skip past its ']' before
    # looking for the port separator, as Chrome does.
    cursor = start
    if spec[cursor] == "[":
        cursor = spec.find("]", start)
        if cursor == -1:
            return None
    port_piece = ""
    colon = spec.find(":", cursor)
    if colon == -1:
        slash = spec.find("/", start)
        end = len(spec) if slash == -1 else slash
        host_piece = spec[start:end]
    else:
        host_piece = spec[start:colon]
        after = colon + 1
        if after < len(spec):
            slash = spec.find("/", after)
            end = len(spec) if slash == -1 else slash
            port_piece = spec[after:end]

    scheme = scheme_piece.lower()
    if scheme in ("", "*"):
        scheme_value: str | None = None
    elif scheme in _WEB_SCHEMES:
        scheme_value = scheme
    else:
        # file://, chrome-extension:// and friends are valid in Chrome but can never match the
        # https origin of a softphone, so they are as good as invalid here.
        return None

    domain_wildcard = False
    if host_piece == "*":
        domain_wildcard, host = True, ""
    elif host_piece.startswith(_DOMAIN_WILDCARD):
        if host_piece.startswith(_DOMAIN_WILDCARD + "."):
            return None
        domain_wildcard = True
        rest = host_piece[len(_DOMAIN_WILDCARD) :]
        canonical = _canonical_host(rest) if rest else ""
        if canonical is None or (canonical and _is_ip(canonical)):
            return None
        host = canonical
    elif "*" in host_piece:
        return None
    elif host_piece.startswith("["):
        canonical_ip = _canonical_ipv6(host_piece)
        if canonical_ip is None:
            return None
        host = canonical_ip
    else:
        canonical = _canonical_host(host_piece)
        if not canonical:
            return None
        host = canonical

    if port_piece in ("", "*"):
        port: str | None = None
    elif port_piece.isdigit() and port_piece.isascii():
        port = port_piece
    else:
        return None

    return UrlPattern(spec, scheme_value, host, domain_wildcard, port)


def _canonical_host(host: str) -> str | None:
    """Lower case, IDNA (punycode) for non-ASCII, one trailing dot dropped; None if Chrome
    would not accept it as a host."""
    if not host:
        return None
    if host.endswith(".."):
        return None
    if len(host) >= 2 and host.endswith("."):
        host = host[:-1]
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    host = host.lower()
    if not _HOST_CHARS.match(host):
        return None
    return host


def _canonical_ipv6(host: str) -> str | None:
    inner = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.IPv6Address(inner))
    except ValueError:
        return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_subdomain_or_equal(sub_domain: str, domain: str) -> bool:
    if not domain or sub_domain == domain:
        return True
    return sub_domain.endswith("." + domain)


@dataclass(frozen=True)
class PatternPair:
    """An exception key: the requesting site (primary) and the embedding site (secondary)."""

    primary: UrlPattern
    secondary: UrlPattern

    def matches(self, origin: Origin) -> bool:
        # A softphone asks from its own top-level page, so the embedding origin is the same.
        return self.primary.matches(origin) and self.secondary.matches(origin)

    def precedence(self) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
        return (self.primary.precedence(), self.secondary.precedence())


def parse_pair(key: str) -> PatternPair | None:
    """``"<primary>,<secondary>"`` as stored in Preferences or given to a content-settings
    policy; a single pattern gets a ``*`` secondary. Parts are trimmed; more than two is invalid."""
    if not isinstance(key, str):
        return None
    parts = [part.strip() for part in key.split(",")]
    if len(parts) == 1:
        if not parts[0]:
            return None
        parts.append("*")
    if len(parts) != 2:
        return None
    primary, secondary = UrlPattern.parse(parts[0]), UrlPattern.parse(parts[1])
    if primary is None or secondary is None:
        return None
    return PatternPair(primary, secondary)


def most_specific(items: Iterable[T], origin: Origin, pair_of: Callable[[T], PatternPair | None]) -> T | None:
    """The item whose pattern pair matches ``origin`` and wins Chrome's precedence. Items with
    equal precedence keep their given order, so callers put the stricter one first."""
    best: T | None = None
    best_key = None
    for item in items:
        pair = pair_of(item)
        if pair is None or not pair.matches(origin):
            continue
        key = pair.precedence()
        if best_key is None or key < best_key:
            best, best_key = item, key
    return best
