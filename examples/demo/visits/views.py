"""The page and the health endpoint."""

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from visits.models import Visit


def index(request: HttpRequest) -> HttpResponse:
    """Record a visit from the web process and show the latest ones."""
    try:
        Visit.objects.create(source="web")
        latest = list(Visit.objects.order_by("-id")[:20])
        total = Visit.objects.count()
    except DatabaseError:  # not migrated yet: say so instead of a 500
        latest, total = [], None
    return render(request, "visits/index.html", {"latest": latest, "total": total})


def healthz(request: HttpRequest) -> HttpResponse:
    """200 as soon as Django serves requests; needs no database, so probes work before migrate."""
    return JsonResponse({"status": "ok"})
