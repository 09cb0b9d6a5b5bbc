"""The checkout bench's second anchor: pgbench's own tpcb-like transaction in a bare Django view.

The same gunicorn, the same project settings and middleware, the same clients and the same
PostgreSQL connection settings as the checkout, against the database ``pgbench -i`` made. It shows
what this stack can do at all on this machine, so the checkout's figure can be read against it:
``POST /tpcb`` runs pgbench's five statements (three balance updates, one read, one history row)
in one transaction: ``meals_raw.tpcb``, which the floor beneath this anchor runs without Django.

Serve it with ``DJANGO_SETTINGS_MODULE=meals_bare`` and ``bench/`` on the Python path. Not a route
of the product: nothing outside the bench imports this module.
"""

from __future__ import annotations

from functools import cache

import meals_raw
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.settings.test import *  # noqa: F403
from minzheng.core.access import public

ROOT_URLCONF = "meals_bare"


@cache
def _scale() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pgbench_branches")
        return int(cursor.fetchone()[0])


@public
@csrf_exempt
@require_POST
def tpcb(request: HttpRequest) -> HttpResponse:
    with transaction.atomic(), connection.cursor() as cursor:
        aid, balance = meals_raw.tpcb(cursor, _scale())
    return JsonResponse({"aid": aid, "abalance": balance}, status=201)


urlpatterns = [path("tpcb", tpcb)]
