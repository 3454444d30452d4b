from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from server.fleet.models import Seat


@login_required
def floor(request: HttpRequest) -> HttpResponse:
    seats = Seat.objects.select_related("floor__site").order_by("floor", "row", "column")
    return render(request, "dashboards/floor.html", {"seats": seats})
