"""Fixtures of the meals tests: staff at each level, two points in sibling communities with
terminals and an operator, registered diners with cards, and transactional PostgreSQL support."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import time
from typing import Any

import pytest
from django.db import connection

from conftest import COMMUNITY_A, COMMUNITY_B, DISTRICT, LIANGZHU, WUCHANG, synthetic_id


def all_day_lunch() -> list[Any]:
    from minzheng.meals.domain import SlotWindow

    return [SlotWindow("lunch", time(0, 0), time(23, 59, 59, 999999), 1500)]


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    from minzheng.meals.selectors import config_cache_clear
    from minzheng.meals.services import books
    from minzheng.meals.services.interop import register_hub

    config_cache_clear()
    books.forget()
    register_hub(None)
    yield
    config_cache_clear()
    books.forget()
    register_hub(None)


@dataclass
class Staffing:
    district: Any
    township: Any
    worker_a: Any
    worker_b: Any
    liangzhu: Any
    operator: Any
    operator_b: Any


@pytest.fixture
def staff(make_staff: Callable[..., Any]) -> Staffing:
    return Staffing(
        district=make_staff(["district_admin"], DISTRICT, username="quji"),
        township=make_staff(["township_staff"], WUCHANG, username="wuchang"),
        worker_a=make_staff(["community_worker"], COMMUNITY_A, username="worker_a"),
        worker_b=make_staff(["community_worker"], COMMUNITY_B, username="worker_b"),
        liangzhu=make_staff(["township_staff"], LIANGZHU, username="liangzhu"),
        operator=make_staff(["canteen_operator"], COMMUNITY_A, username="chef_a", full_name="李师傅"),
        operator_b=make_staff(["canteen_operator"], COMMUNITY_B, username="chef_b"),
    )


@dataclass
class Site:
    point: Any
    key: Any
    secret: str


@pytest.fixture
def make_site(staff: Staffing) -> Callable[..., Site]:
    from minzheng.accounts.services import api_key_create
    from minzheng.meals.services.points import point_create, terminal_bind

    def make(code: str = "YH001", division: str = COMMUNITY_A, windows: Any = None, **data: Any) -> Site:
        fields = {"name": data.pop("name", f"{code}助餐点"), "point_type": "elder_canteen",
                  "operator_org": "余杭颐养餐饮有限公司", "capacity": 120, **data}
        point = point_create(actor=staff.district, code=code, division_code=division, data=fields,
                             windows=all_day_lunch() if windows is None else windows)
        key, secret = api_key_create(actor=None, name=f"{code}终端", purpose="canteen_terminal",
                                     division_code=division)
        terminal_bind(actor=staff.district, point=point, api_key=key)
        return Site(point, key, secret)

    return make


@pytest.fixture
def site(make_site: Callable[..., Site], staff: Staffing) -> Site:
    from minzheng.meals.services.points import operator_assign

    s = make_site("YH001", COMMUNITY_A)
    operator_assign(actor=staff.district, point=s.point, staff=staff.operator)
    return s


@pytest.fixture
def site_b(make_site: Callable[..., Site], staff: Staffing) -> Site:
    from minzheng.meals.services.points import operator_assign

    s = make_site("YH002", COMMUNITY_B)
    operator_assign(actor=staff.district, point=s.point, staff=staff.operator_b)
    return s


@pytest.fixture
def make_diner(make_person: Callable[..., Any], staff: Staffing) -> Callable[..., Any]:
    """A reviewed diner with a 市民卡 ``card``; ``birth`` sets the age tier."""
    from minzheng.meals.services.diners import card_issue, diner_register, diner_review

    counter = {"n": 0}

    def make(name: str = "王秀英", birth: str = "19500101", division: str = COMMUNITY_A, card: str | None = None,
             approve: bool = True, **person: Any) -> Any:
        counter["n"] += 1
        p = make_person(name=name, division=division, birth=birth,
                        id_number=synthetic_id(birth=birth, seq=500 + counter["n"]), **person)
        worker = staff.worker_a if division == COMMUNITY_A else staff.worker_b
        diner = diner_register(actor=worker, person_uid=p.uid)
        if approve:
            diner = diner_review(actor=staff.township, diner=diner, approve=True)
        card_no = card or f"HZ{330110}{counter['n']:06d}"
        if approve:
            card_issue(actor=worker, diner=diner, kind="citizen_card", number=card_no)
        diner.card = card_no
        diner.person_obj = p
        return diner

    return make


@pytest.fixture
def snapshot() -> Callable[[], dict[str, Any]]:
    """Everything a refused checkout must leave untouched."""

    def take() -> dict[str, Any]:
        from minzheng.core.models import AuditEvent
        from minzheng.ledger.models import Account, Posting, Transaction
        from minzheng.meals.models import MealService

        return {
            "meals": list(MealService.objects.order_by("id").values_list("id", "status", "subsidised")),
            "txns": Transaction.objects.count(),
            "postings": Posting.objects.count(),
            "balances": dict(Account.objects.values_list("code", "balance_fen")),
            "audit": AuditEvent.objects.filter(event_type__startswith="meals.checkout").count(),
        }

    return take


@pytest.fixture
def flushable(require_postgres: None) -> Iterator[None]:
    """Let the flush after a transactional PostgreSQL test truncate the append-only tables (the
    ledger's and the audit log's triggers refuse TRUNCATE): replica role for the flush only."""
    yield

    def lift_for_truncate(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith("TRUNCATE"):
            connection.execute_wrappers.remove(lift_for_truncate)
            context["cursor"].execute("SET LOCAL session_replication_role = replica")
        return execute(sql, params, many, context)

    connection.execute_wrappers.append(lift_for_truncate)

