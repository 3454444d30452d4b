"""The schedule form of the Reports page and the admin: formats as checkboxes, times as times."""

from __future__ import annotations

from django import forms

from server.reports.models import Format, ReportSchedule


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = ReportSchedule
        fields = [
            "name",
            "scope_kind",
            "site",
            "floor",
            "team",
            "cadence",
            "at_time",
            "weekday",
            "cron",
            "minutes_before",
            "period_days",
            "formats",
            "recipients",
            "webhook",
            "enabled",
        ]
        widgets = {
            "at_time": forms.TimeInput(attrs={"type": "time"}),
            "recipients": forms.Textarea(attrs={"rows": 3}),
        }

    formats = forms.MultipleChoiceField(choices=Format.choices, widget=forms.CheckboxSelectMultiple)
