"""Where `/` leads: each role's home page.

IT admins and auditors land on the fleet overview, supervisors on their shift board. The floor
page lives at /floor/; links to the old address (`/?floor=3&status=all`, in alerts already sent
and in bookmarks) still open it, query and all.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from dashboards.views import role_required
from server.roles import scope


@require_GET
@role_required
def home(request: HttpRequest) -> HttpResponse:
    if request.META.get("QUERY_STRING"):
        return HttpResponseRedirect(reverse("dashboards:floor") + "?" + request.META["QUERY_STRING"])
    if scope.sees_every_floor(request.user):
        return HttpResponseRedirect(reverse("dashboards:fleet"))
    return HttpResponseRedirect(reverse("dashboards:board"))
