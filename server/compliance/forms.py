"""The policy form: real widgets for every policy field, and a preview before saving.

Origins and headsets are one per line, checks are the catalog's (titles as checkboxes),
severities a choice per check. Bad values are refused naming the field. Saving a change
takes two submits: the first shows what it would do to the seats the policy governs
(compliance.preview.impact), the second — with the same values — saves it.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from django import forms
from readyfloor_agent.checks import CATALOG, get_check
from readyfloor_agent.checks.browsers import BROWSERS
from readyfloor_agent.checks.model import SEVERITIES
from readyfloor_agent.checks.urlpattern import Origin

from server.compliance import preview
from server.compliance.models import Policy


class LinesField(forms.CharField):
    """A list of strings, one per line; blank lines ignored, duplicates refused."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 60})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, (list, tuple)) else value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, (list, tuple)):
            return [str(item) for item in value]
        lines = [line.strip() for line in str(value or "").splitlines()]
        return [line for line in lines if line]

    def validate(self, value: list[str]) -> None:
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        seen = set()
        for line in value:
            if line in seen:
                raise forms.ValidationError(f"{line!r} is listed twice", code="duplicate")
            seen.add(line)


class OriginsField(LinesField):
    def validate(self, value: list[str]) -> None:
        super().validate(value)
        for number, origin in enumerate(value, 1):
            if Origin.parse(origin) is None:
                raise forms.ValidationError(
                    f"line {number}: {origin!r} is not a web origin like https://acme.my.salesforce.com",
                    code="origin",
                )


# A USB id "vvvv:pppp" (hex), or a name pattern where * matches anything ("*Jabra*").
_USB_ID = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$")


class HeadsetsField(LinesField):
    def validate(self, value: list[str]) -> None:
        super().validate(value)
        for number, entry in enumerate(value, 1):
            looks_like_id = ":" in entry and not any(c in entry for c in " *")
            if looks_like_id and not _USB_ID.match(entry):
                raise forms.ValidationError(
                    f"line {number}: {entry!r} is not a USB id like 0b0e:24d1 (four hex digits each side)",
                    code="headset",
                )


def severity_field_name(check_id: str) -> str:
    return "severity__" + check_id.replace(".", "__")


BROWSER_CHOICES = [(browser.id, browser.label) for browser in BROWSERS.values()]
CHECK_CHOICES = [(check.id, f"{check.title} ({check.id})") for check in CATALOG]


class _PolicyForm(forms.ModelForm):
    cti_origins = OriginsField(
        required=False,
        label="CTI origins",
        help_text="Origins of the softphone, one per line, e.g. https://acme.my.salesforce.com",
    )
    approved_headsets = HeadsetsField(
        required=False,
        help_text='One per line: a USB id "0b0e:24d1", or a name pattern like "*Jabra*". Empty: any headset.',
    )
    disabled_checks = forms.MultipleChoiceField(
        choices=CHECK_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Checks this policy does not judge (they read 'not applicable').",
    )
    browsers = forms.MultipleChoiceField(
        choices=BROWSER_CHOICES,
        initial=["chrome"],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The browsers the softphone runs in here: each installed one is judged, the worst decides.",
    )
    comment = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Why this change: kept with the new version.",
    )
    # The digest of the values the preview was shown for: saving needs a preview of exactly
    # the values being saved, so a value edited after the preview is previewed again.
    previewed = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = Policy
        fields = [
            "name",
            "site",
            "floor",
            "cti_origins",
            "notifications_required",
            "min_chrome_major",
            "approved_headsets",
            "freshness_s",
            "checkin_interval_s",
            "disabled_checks",
            "browsers",
        ]

    impact: preview.Impact | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = dict(self.instance.severities or {})
        for check in CATALOG:
            self.initial.setdefault(severity_field_name(check.id), current.get(check.id, ""))

    def clean_browsers(self) -> list[str]:
        # None ticked means the default: the softphone runs in Chrome.
        return list(self.cleaned_data.get("browsers") or ["chrome"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        severities = {}
        for check in CATALOG:
            chosen = cleaned.get(severity_field_name(check.id))
            if chosen and chosen != get_check(check.id).severity:
                severities[check.id] = chosen
        cleaned["severities"] = severities
        self.instance.severities = severities
        if self.errors:
            return cleaned
        changes = {f.name: cleaned[f.name] for f in Policy._meta.fields if f.name in cleaned}
        changes["severities"] = severities
        digest = _digest(changes)
        if cleaned.get("previewed") == digest:
            return cleaned
        try:
            self.impact = preview.impact(self.instance, changes)
        except ValueError as error:
            name, _, message = str(error).partition(": ")
            self.add_error(name if name in self.fields else None, message or str(error))
            return cleaned
        # Shown again with the preview: the same values saved next time go through.
        self.data = self.data.copy()
        self.data["previewed"] = digest
        raise forms.ValidationError(
            "Nothing saved yet. " + " ".join(self.impact.lines()) + " Save again to apply this change.",
            code="preview",
        )


def _digest(changes: dict[str, Any]) -> str:
    normal = {key: (value.pk if hasattr(value, "pk") else value) for key, value in sorted(changes.items())}
    return hashlib.sha256(json.dumps(normal, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _severity_field(check_id: str) -> forms.ChoiceField:
    check = get_check(check_id)
    return forms.ChoiceField(
        label=check.title,
        choices=[("", f"catalog default ({check.severity})")] + [(s, s) for s in SEVERITIES],
        required=False,
    )


# One severity choice per catalog check, declared on the class so the admin can lay them out.
PolicyForm = type(
    "PolicyForm",
    (_PolicyForm,),
    {severity_field_name(check.id): _severity_field(check.id) for check in CATALOG},
)
SEVERITY_FIELDS = [severity_field_name(check.id) for check in CATALOG]
