"""The checkout bench's second anchor: pgbench's own tpcb-like transaction in a bare Django view.

The same gunicorn, the same project settings and middleware, the same clients and the same
PostgreSQL connection settings as the checkout, against the database ``pgbench -i`` made. It shows
what this stack can do at all on this machine, so the checkout's figure can be read against it:
``POST /tpcb`` runs pgbench's five statements (three balance updates, one read, one history row)
in one transaction, with random ids over the scale pgbench was initialised with.

Serve it with ``DJANGO_SETTINGS_MODULE=meals_bare`` and ``bench/`` on the Python path. Not a route
of the product: nothing outside the bench imports this module.
"""

from __future__ import annotations

import random
from functools import cache

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
    scale = _scale()
    aid, bid, tid = random.randint(1, 100_000 * scale), random.randint(1, scale), random.randint(1, 10 * scale)
    delta = random.randint(-5000, 5000)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE pgbench_accounts SET abalance = abalance + %s WHERE aid = %s", [delta, aid])
        cursor.execute("SELECT abalance FROM pgbench_accounts WHERE aid = %s", [aid])
        balance = cursor.fetchone()[0]
        cursor.execute("UPDATE pgbench_tellers SET tbalance = tbalance + %s WHERE tid = %s", [delta, tid])
        cursor.execute("UPDATE pgbench_branches SET bbalance = bbalance + %s WHERE bid = %s", [delta, bid])
        cursor.execute("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
                       "VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP)", [tid, bid, aid, delta])
    return JsonResponse({"aid": aid, "abalance": balance}, status=201)


urlpatterns = [path("tpcb", tpcb)]
