"""Configuration profiles (``.mobileconfig``): the managed preferences a profile installs.

On a Mac, an installed profile's payloads become ``/Library/Managed Preferences/<domain>.plist``
(or ``.../<user>/<domain>.plist`` for a user-scoped profile), which is what browsers read their
policies from. A support bundle may hold only the profile IT deployed; ``managed_preferences``
turns it into those files so the seat is judged as the Mac would see it.

Two payload forms carry preferences: a custom-settings payload whose ``PayloadType`` is the
preference domain (``com.google.Chrome``, ``com.microsoft.Edge``) with the settings as its keys,
and the older ``com.apple.ManagedClient.preferences`` payload (MCX), whose ``Forced`` settings
are managed. Other Apple payloads (Wi-Fi, privacy, certificates) install no preferences. Signed
profiles (CMS) are read from the property list they wrap.
"""

from __future__ import annotations

import plistlib
import re
from typing import Any

from .host import ReadError

MANAGED_PREFERENCES = "/Library/Managed Preferences"
PROFILE_LIMIT = 4_000_000
MCX = "com.apple.ManagedClient.preferences"
_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_EMBEDDED = re.compile(rb"<\?xml.*?</plist>", re.DOTALL)


def load_profile(data: bytes) -> dict[str, Any]:
    """The profile's top-level dictionary; ReadError when it is no profile."""
    text = data
    if not data.lstrip().startswith((b"<?xml", b"<plist", b"bplist")):
        # A signed profile: DER-encoded CMS whose content is the XML property list.
        found = _EMBEDDED.search(data)
        if found is None:
            raise ReadError("not a configuration profile (no property list inside)")
        text = found.group(0)
    try:
        document = plistlib.loads(text)
    except Exception as error:  # plistlib raises several types for damaged input
        raise ReadError(f"not a readable configuration profile: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("PayloadContent", []), list):
        raise ReadError("not a configuration profile (no list of payloads)")
    return document


def managed_preferences(data: bytes, user: str | None) -> dict[str, dict[str, Any]]:
    """Managed-preferences path -> the settings the profile puts there."""
    profile = load_profile(data)
    user_scoped = str(profile.get("PayloadScope", "System")).lower() == "user" and bool(user)
    folder = f"{MANAGED_PREFERENCES}/{user}" if user_scoped else MANAGED_PREFERENCES
    installed: dict[str, dict[str, Any]] = {}
    for payload in profile.get("PayloadContent", []):
        if not isinstance(payload, dict) or payload.get("PayloadEnabled") is False:
            continue
        kind = payload.get("PayloadType")
        if not isinstance(kind, str):
            continue
        for domain, settings in _payload_settings(kind, payload):
            target = f"{folder}/{domain}.plist"
            installed[target] = {**installed.get(target, {}), **settings}
    return installed


def _payload_settings(kind: str, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if kind == MCX:
        content = payload.get("PayloadContent")
        found = []
        for domain, layers in content.items() if isinstance(content, dict) else []:
            forced = layers.get("Forced") if isinstance(layers, dict) else None
            settings: dict[str, Any] = {}
            for layer in forced if isinstance(forced, list) else []:
                values = layer.get("mcx_preference_settings") if isinstance(layer, dict) else None
                if isinstance(values, dict):
                    settings.update(values)
            if settings and isinstance(domain, str) and _DOMAIN.match(domain):
                found.append((domain, settings))
        return found
    if kind.startswith("com.apple.") or not _DOMAIN.match(kind):
        return []
    settings = {key: value for key, value in payload.items() if not key.startswith("Payload")}
    return [(kind, settings)] if settings else []
