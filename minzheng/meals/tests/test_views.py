"""The staff screens: every route declares its permission; anonymous → login, no permission → 403,
another area sees nothing of this one; the canteen page's quote → confirm flow through htmx."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from conftest import COMMUNITY_A
from minzheng.core.access import declared_permissions
from minzheng.meals.models import MealService
from minzheng.meals.services.checkout import CheckoutRequest, meal_checkout

pytestmark = [pytest.mark.django_db, pytest.mark.urls("minzheng.meals.tests.urls")]

FULL_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_every_meals_route_declares_a_permission():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern), p.callback

    routes = [(path, cb) for path, cb in walk(get_resolver("minzheng.meals.tests.urls").url_patterns)
              if path.startswith("meals/")]
    assert len(routes) >= 15
    for path, callback in routes:
        assert declared_permissions(callback) is not None, path


GET_ROUTES = ["/meals/", "/meals/overview/", "/meals/points/", "/meals/diners/review/", "/meals/reconciliation/",
              "/meals/claims/", "/meals/clearing/", "/meals/flags/"]


@pytest.mark.parametrize("url", GET_ROUTES)
def test_anonymous_goes_to_login(client, url):
    res = client.get(url)
    assert res.status_code == 302
    assert "/login/" in res["Location"]


def test_who_may_open_what(client, login, staff, site):
    allowed = {
        "operator": {"/meals/", "/meals/overview/", "/meals/points/", "/meals/claims/"},
        "worker_a": {"/meals/overview/", "/meals/points/", "/meals/diners/review/", "/meals/claims/"},
        "township": {"/meals/overview/", "/meals/points/", "/meals/diners/review/", "/meals/reconciliation/",
                     "/meals/claims/", "/meals/flags/"},
        "district": set(GET_ROUTES) - {"/meals/"},
    }
    for who, urls in allowed.items():
        client.logout()
        login(getattr(staff, who))
        for url in GET_ROUTES:
            status = client.get(url).status_code
            assert status == (200 if url in urls else 403), (who, url, status)


def test_other_area_sees_no_point_and_no_meals(client, login, staff, site, make_diner):
    diner = make_diner()
    meal_checkout(actor=site.key, request=CheckoutRequest(point_id=site.point.pk, credential=diner.card,
                                                          idempotency_key="view-0001", payment_method="cash"))
    login(staff.liangzhu)
    body = client.get("/meals/points/").content.decode()
    assert "YH001" not in body
    overview = client.get("/meals/overview/").content.decode()
    assert "YH001" not in overview
    client.logout()
    login(staff.township)
    assert "YH001" in client.get("/meals/points/").content.decode()


def test_canteen_page_quote_then_confirm_then_next(client, login, staff, site, make_diner):
    diner = make_diner(name="王秀英", birth="19420101")
    login(staff.operator)
    page = client.get("/meals/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "助餐结算" in html
    assert 'id="credential"' in html
    assert "autofocus" in html
    quote = client.post("/meals/canteen/quote/", {"point": "YH001", "credential": diner.card, "price": "15"}, **HTMX)
    q = quote.content.decode()
    assert "王*英" in q
    assert "80–89岁优惠 30%(7折)" in q
    assert "¥10.50" in q
    assert "待民政局确认" in q
    assert diner.card not in q
    assert not FULL_ID.search(q)
    key = re.search(r'name="key" value="([0-9a-f]{32})"', q).group(1)
    done = client.post("/meals/canteen/confirm/", {"key": key, "method": "wechat"}, **HTMX).content.decode()
    assert "结算成功" in done
    assert "¥10.50" in done
    assert "微信" in done
    assert 'hx-swap-oob="innerHTML"' in done
    meal = MealService.objects.get()
    assert meal.channel == "page"
    assert meal.operator_id == staff.operator.pk
    assert meal.tenders == {"wechat": 1050}
    # the same quote cannot be confirmed twice
    again = client.post("/meals/canteen/confirm/", {"key": key, "method": "wechat"}, **HTMX).content.decode()
    assert "已失效" in again
    assert MealService.objects.count() == 1


def test_canteen_page_errors_are_chinese_and_not_500(client, login, staff, site, make_diner):
    login(staff.operator)
    res = client.post("/meals/canteen/quote/", {"point": "YH001", "credential": "NO-SUCH"}, **HTMX)
    assert res.status_code == 200
    assert "未找到该凭证" in res.content.decode()
    res = client.post("/meals/canteen/quote/", {"point": "YH001", "credential": "X", "price": "abc"}, **HTMX)
    assert "请输入金额" in res.content.decode()
    res = client.post("/meals/canteen/confirm/", {"key": "nope"}, **HTMX)
    assert "已失效" in res.content.decode()


def test_id_number_at_the_till_asks_for_confirmation(client, login, staff, site, make_diner):
    from conftest import synthetic_id

    make_diner(birth="19480808")
    login(staff.operator)
    number = synthetic_id(birth="19480808", seq=501)
    res = client.post("/meals/canteen/quote/", {"point": "YH001", "credential": number}, **HTMX).content.decode()
    assert "核验" in res
    assert "已核验本人身份证" in res
    res2 = client.post("/meals/canteen/quote/", {"point": "YH001", "credential": number, "id_confirmed": "1"},
                       **HTMX).content.decode()
    assert "老人自付" in res2


def test_void_from_the_canteen_page(client, login, staff, site, make_diner):
    diner = make_diner()
    meal = meal_checkout(actor=staff.operator, request=CheckoutRequest(
        point_id=site.point.pk, credential=diner.card, idempotency_key="view-void-1", payment_method="cash")).meal
    login(staff.operator)
    res = client.post(f"/meals/canteen/void/{meal.id}/", {"reason": "老人退餐"}, **HTMX).content.decode()
    assert "已冲正" in res
    assert MealService.objects.get().status == "voided"


def test_review_queue_approve(client, login, staff, make_diner):
    diner = make_diner(approve=False)
    login(staff.township)
    page = client.get("/meals/diners/review/").content.decode()
    assert diner.name_masked in page
    assert not FULL_ID.search(page)
    res = client.post(f"/meals/diners/{diner.uid}/review/", {"decision": "approve"})
    assert res.status_code == 302
    diner.refresh_from_db()
    assert diner.status == "active"


def test_register_from_the_person_page(client, login, staff, make_person):
    person = make_person(name="孙大爷", birth="19450505")
    login(staff.worker_a)
    page = client.get(f"/people/{person.uid}/").content.decode()
    assert "登记为助餐对象" in page
    client.post(f"/meals/diners/register/{person.uid}/")
    page = client.get(f"/people/{person.uid}/").content.decode()
    assert "待审核" in page


def test_reconciliation_claims_and_clearing_screens(client, login, staff, site, make_diner):
    diner = make_diner()
    meal_checkout(actor=site.key, request=CheckoutRequest(point_id=site.point.pk, credential=diner.card,
                                                          idempotency_key="view-rec-1", payment_method="cash"))
    login(staff.district)
    res = client.post("/meals/reconciliation/", {"day": timezone.localdate().isoformat()}).content.decode()
    assert "对账完成: 1 个助餐点, 0 个有差异" in res
    future = (timezone.localdate() + timedelta(days=2)).isoformat()
    assert "请选择今天或以前的日期" in client.post("/meals/reconciliation/", {"day": future}).content.decode()
    res = client.post("/meals/clearing/", {"month": timezone.localdate().strftime("%Y-%m")}).content.decode()
    assert "已生成" in res
    assert "与账本一致" in res
    assert "月份格式" in client.post("/meals/clearing/", {"month": "abc"}).content.decode()
    xlsx = client.get("/meals/claims/payment.xlsx")
    assert xlsx.status_code == 200
    assert xlsx.content[:2] == b"PK"


def test_coverage_counts_the_registry_elders_and_the_diners_among_them(client, login, staff, make_diner, make_person):
    from minzheng.divisions.models import Division
    from minzheng.meals.enums import Category
    from minzheng.meals.selectors import coverage_by_community
    from minzheng.people.services import person_status_tags_sync

    make_diner(name="王秀英", birth="19420101")  # 80+, eats here
    make_person(name="李独居", birth="19550101", living_arrangement="alone")  # 60+, lives alone, not a diner
    tekun = make_person(name="赵特困", birth="19500101")  # 60+, 特困 (assistance says so), not a diner
    person_status_tags_sync(source="assistance", managed=["特困"], held={tekun.pk: {"特困"}}, person_ids=[tekun.pk])
    make_person(name="钱青年", birth="19900101", living_arrangement="alone")  # not an elder: not counted

    cats = [Category.TEKUN, Category.ALONE, Category.ADVANCED_AGE]
    rows = coverage_by_community(actor=staff.district, categories=cats, day=timezone.localdate())
    name = Division.objects.get(pk=COMMUNITY_A).name
    row = next(r for r in rows if r["community"] == name)
    assert row["elders"] == (1, 3)
    assert row[Category.ADVANCED_AGE] == (1, 1)
    assert row[Category.ALONE] == (0, 1)
    assert row[Category.TEKUN] == (0, 1)
    assert coverage_by_community(actor=staff.liangzhu, categories=cats, day=timezone.localdate()) == []  # another town

    login(staff.district)
    page = client.get("/meals/overview/").content.decode()
    assert page.count("居住在该村社的60岁以上老人") == 1
    assert f"<td>{name}</td><td>1 / 3 <span class=\"muted\">33.3%</span></td>" in page


def test_overview_warns_of_licences_expired_or_due_within_30_days(client, login, staff, make_site):
    from minzheng.meals.models import MealPoint

    today = timezone.localdate()
    for code, expires in (("YH001", today - timedelta(days=900)), ("YH002", today + timedelta(days=10)),
                          ("YH003", today + timedelta(days=90))):
        point = make_site(code).point
        MealPoint.objects.filter(pk=point.pk).update(licence_no=f"JY{code}", licence_expires=expires)

    login(staff.district)
    page = client.get("/meals/overview/").content.decode()
    rows = {code: re.search(rf"<td>JY{code}</td><td>[^<]*<span class=\"badge red\">([^<]+)</span>", page)
            for code in ("YH001", "YH002", "YH003")}
    assert rows["YH001"] and rows["YH001"].group(1) == "已过期"
    assert rows["YH002"] and rows["YH002"].group(1) == "即将到期"
    assert rows["YH003"] is None and "JYYH003" not in page
