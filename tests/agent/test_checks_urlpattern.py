"""Chrome's content-settings pattern grammar, as Chromium's PatternParser and
ContentSettingsPattern::Matches implement it."""

from __future__ import annotations

import pytest
from readyfloor_agent.checks.urlpattern import Origin, UrlPattern, most_specific, parse_pair

SF = "https://acme.my.salesforce.com"

# (pattern, origin, matches)
MATCH_TABLE = [
    # Exact origins, with and without the default port.
    ("https://acme.my.salesforce.com", SF, True),
    ("https://acme.my.salesforce.com:443", SF, True),
    ("https://acme.my.salesforce.com:443", "https://acme.my.salesforce.com:443", True),
    ("https://acme.my.salesforce.com/", SF, True),
    ("https://acme.my.salesforce.com/lightning/page/home", SF, True),  # paths are ignored
    ("https://ACME.My.Salesforce.com", SF, True),  # hosts are case-insensitive
    ("https://acme.my.salesforce.com.", SF, True),  # one trailing dot is dropped
    # Wrong origins: the classic near misses on a CTI floor.
    ("https://acme.lightning.force.com", SF, False),
    ("https://acme.lightning.force.com:443,*", SF, False),
    ("http://acme.my.salesforce.com", SF, False),
    ("https://acme.my.salesforce.com:8443", SF, False),
    ("https://acme.my.salesforce.com:443", "https://acme.my.salesforce.com:8443", False),
    ("https://my.salesforce.com", SF, False),
    ("https://evilacme.my.salesforce.com", SF, False),
    # A missing port is a port wildcard; an explicit one is compared as written.
    ("https://acme.my.salesforce.com", "https://acme.my.salesforce.com:8443", True),
    ("https://acme.my.salesforce.com:*", "https://acme.my.salesforce.com:8443", True),
    ("https://acme.my.salesforce.com:0443", SF, False),
    ("http://intranet.acme.com:80", "http://intranet.acme.com", True),
    # Domain wildcards.
    ("[*.]salesforce.com", SF, True),
    ("[*.]my.salesforce.com", SF, True),
    ("[*.]acme.my.salesforce.com", SF, True),
    ("https://[*.]salesforce.com/", SF, True),
    ("https://[*.]salesforce.com:443", SF, True),
    ("[*.]salesforce.com", "https://salesforce.com", True),
    ("[*.]force.com", SF, False),
    ("[*.]alesforce.com", SF, False),
    ("http://[*.]salesforce.com", SF, False),
    # Scheme-less and scheme-wildcard patterns match any scheme.
    ("acme.my.salesforce.com", SF, True),
    ("acme.my.salesforce.com", "http://acme.my.salesforce.com", True),
    ("*://acme.my.salesforce.com", SF, True),
    ("acme.my.salesforce.com:443", SF, True),
    ("acme.my.salesforce.com:443", "http://acme.my.salesforce.com", False),
    # Host wildcards.
    ("*", SF, True),
    ("https://*", SF, True),
    ("https://*", "http://acme.my.salesforce.com", False),
    ("[*.]", SF, True),
    # IP addresses.
    ("https://10.20.0.5", "https://10.20.0.5", True),
    ("https://[::1]:8443", "https://[::1]:8443", True),
    # Internationalised domain names are compared in punycode.
    ("https://bücher.example", "https://xn--bcher-kva.example", True),
]


@pytest.mark.parametrize(("pattern", "origin", "expected"), MATCH_TABLE)
def test_pattern_matches_origin_like_chrome(pattern: str, origin: str, expected: bool) -> None:
    pair = parse_pair(pattern)
    parsed_origin = Origin.parse(origin)
    assert pair is not None, f"{pattern!r} should be a valid pattern"
    assert parsed_origin is not None
    assert pair.matches(parsed_origin) is expected


INVALID_PATTERNS = [
    "",
    "https://",
    "*.salesforce.com",  # a '*' in a host is only allowed as [*.]
    "https://*.salesforce.com",
    "[*.].salesforce.com",  # the superfluous dot Chrome rejects (crbug.com/823706)
    "https://acme.my.salesforce.com:44x3",
    "https://acme.my.salesforce.com..",
    "ftp://acme.my.salesforce.com",
    "chrome-extension://abcdefghijklmnop",
    "file:///C:/softphone.html",
    "[*.]10.0.0.1",  # a domain wildcard on an IP address
    "https://[not-an-ip]",
    "https://acme my.salesforce.com",
    "a,b,c",
]


@pytest.mark.parametrize("pattern", INVALID_PATTERNS)
def test_invalid_pattern_matches_nothing(pattern: str) -> None:
    assert parse_pair(pattern) is None


def test_exception_key_with_wildcard_secondary_parses_both_halves() -> None:
    pair = parse_pair("https://acme.my.salesforce.com:443,*")
    assert pair is not None
    assert pair.primary.host == "acme.my.salesforce.com"
    assert pair.primary.port == "443"
    assert pair.secondary.is_full_wildcard


def test_exception_key_parts_are_trimmed() -> None:
    pair = parse_pair(" https://acme.my.salesforce.com:443 , * ")
    assert pair is not None and pair.matches(Origin.parse(SF))  # type: ignore[arg-type]


def test_secondary_pattern_must_match_the_embedding_origin_too() -> None:
    pair = parse_pair("https://acme.my.salesforce.com:443,https://other.example.com:443")
    assert pair is not None
    assert not pair.matches(Origin.parse(SF))  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["*", "*://*:*", "*://*"])
def test_full_wildcard_is_recognised_whatever_the_spelling(spec: str) -> None:
    pattern = UrlPattern.parse(spec)
    assert pattern is not None and pattern.is_full_wildcard


@pytest.mark.parametrize("spec", ["https://*", "[*.]salesforce.com", "*:443"])
def test_partial_wildcards_are_not_the_full_wildcard(spec: str) -> None:
    pattern = UrlPattern.parse(spec)
    assert pattern is not None and not pattern.is_full_wildcard


ORIGIN_TABLE = [
    ("https://acme.my.salesforce.com", "https://acme.my.salesforce.com", "443"),
    ("https://acme.my.salesforce.com/", "https://acme.my.salesforce.com", "443"),
    ("https://acme.my.salesforce.com:443", "https://acme.my.salesforce.com", "443"),
    ("https://acme.my.salesforce.com:8443/x", "https://acme.my.salesforce.com:8443", "8443"),
    ("acme.my.salesforce.com", "https://acme.my.salesforce.com", "443"),
    ("HTTPS://APP.HubSpot.com", "https://app.hubspot.com", "443"),
    ("http://intranet.acme.com", "http://intranet.acme.com", "80"),
]


@pytest.mark.parametrize(("text", "shown", "port"), ORIGIN_TABLE)
def test_origin_is_canonical(text: str, shown: str, port: str) -> None:
    origin = Origin.parse(text)
    assert origin is not None
    assert str(origin) == shown
    assert origin.port == port


@pytest.mark.parametrize(
    "text", ["", "   ", "ftp://x.com", "https://", "https://a b.com", "https://x.com:99999"]
)
def test_origin_rejects_what_is_not_a_web_origin(text: str) -> None:
    assert Origin.parse(text) is None


def test_most_specific_pattern_wins_like_chrome_precedence() -> None:
    origin = Origin.parse(SF)
    assert origin is not None
    rules = [
        ("*", "block"),
        ("[*.]salesforce.com", "block"),
        ("https://acme.my.salesforce.com:443", "allow"),
        ("[*.]my.salesforce.com", "ask"),
    ]
    winner = most_specific(rules, origin, lambda rule: parse_pair(rule[0]))
    assert winner == ("https://acme.my.salesforce.com:443", "allow")


def test_explicit_port_and_scheme_beat_wildcards_on_the_same_host() -> None:
    origin = Origin.parse(SF)
    assert origin is not None
    rules = [("acme.my.salesforce.com", "wildcard scheme"), ("https://acme.my.salesforce.com:443", "exact")]
    assert most_specific(rules, origin, lambda rule: parse_pair(rule[0])) == rules[1]


def test_among_equal_patterns_the_first_given_wins() -> None:
    origin = Origin.parse(SF)
    assert origin is not None
    rules = [("[*.]salesforce.com", "block"), ("[*.]salesforce.com", "allow")]
    assert most_specific(rules, origin, lambda rule: parse_pair(rule[0])) == rules[0]


def test_no_match_gives_none() -> None:
    origin = Origin.parse(SF)
    assert origin is not None
    assert most_specific(["https://app.hubspot.com"], origin, parse_pair) is None
