import datetime as dt

from django import template
from django.utils import timezone

from dashboards.figures import duration
from dashboards.views import plotly_js_url as _plotly_js_url

register = template.Library()


@register.simple_tag
def plotly_js_url() -> str:
    """Where pages load plotly.js from: our own server, versioned so it can be cached for good."""
    return _plotly_js_url()


# Same wording as the floor map's hovers ("25 min", "3 h 10 min"), not Django's timesince.


@register.filter
def lasting(moment: dt.datetime | None) -> str:
    """'for 25 min', or 'just now' for a state that began under a minute ago."""
    if moment is None:
        return ""
    text = duration(timezone.now() - moment)
    return text if text == "just now" else f"for {text}"


@register.filter
def ago(moment: dt.datetime | None) -> str:
    """'25 min ago', 'just now' or 'never'."""
    if moment is None:
        return "never"
    text = duration(timezone.now() - moment)
    return text if text == "just now" else f"{text} ago"


@register.filter
def get_item(mapping: dict, key: str):
    """`mapping|get_item:key` for a key held in a variable."""
    return mapping.get(key) if hasattr(mapping, "get") else None
