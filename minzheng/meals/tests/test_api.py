"""The checkout API as a terminal and an operator's browser use it: X-API-Key or session (CSRF),
declared permissions, one error shape ``{code, message, extra}`` with a 4xx, never a 500."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from minzheng.ledger.models import Transaction
from minzheng.meals.models import MealService

pytestmark = [pytest.mark.django_db, pytest.mark.urls("minzheng.meals.tests.urls")]

BASE = "/api/v1/meals"


def post(client, path, body, key=None, **headers):
    if key:
        headers["HTTP_X_API_KEY"] = key
    return client.post(BASE + path, data=json.dumps(body, default=str), content_type="application/json", **headers)


@pytest.fixture
def api():
    return Client()


def test_terminal_quotes_and_checks_out_and_a_retry_is_200_with_the_same_meal(api, site, make_diner):
    diner = make_diner(birth="19330303")  # 90+: 5折 (待民政局确认)
    q = post(api, "/quote", {"point": "YH001", "credential": diner.card}, key=site.secret)
    assert q.status_code == 200, q.content
    body = q.json()
    assert (body["price_fen"], body["self_pay_fen"]) == (1500, 750)
    assert body["diner"]["name"] == "王*英"
    assert "高龄" in body["diner"]["categories"]
    assert "90岁以上档" in body["to_confirm"]
    assert [line["step"] for line in body["trace"]] == ["price", "discount", "self_pay"]

    req = {"point": "YH001", "credential": diner.card, "idempotency_key": "T1-20240506-0001",
           "payment_method": "alipay", "expected_self_pay_fen": 750}
    first = post(api, "/checkout", req, key=site.secret)
    assert first.status_code == 201, first.content
    assert first.json()["subsidised"]
    assert first.json()["tenders"] == {"alipay": 750}
    again = post(api, "/checkout", req, key=site.secret)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["replayed"]
    assert Transaction.objects.filter(kind="meal.checkout").count() == 1


def test_idempotency_key_in_the_header(api, site, make_diner):
    diner = make_diner()
    res = post(api, "/checkout", {"point": "YH001", "credential": diner.card, "payment_method": "cash"},
               key=site.secret, HTTP_IDEMPOTENCY_KEY="hdr-key-0001")
    assert res.status_code == 201
    missing = post(api, "/checkout", {"point": "YH001", "credential": diner.card, "payment_method": "cash"},
                   key=site.secret)
    assert missing.status_code == 400
    assert missing.json()["code"] == "idempotency_key_required"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"credential": "NO-SUCH-CARD"}, 400, "unknown_credential"),
    ({"credential": "MQ1.AAAA.BBBB"}, 400, "bad_qr"),
    ({"tenders": {"cash": 1}, "payment_method": None}, 400, "tender_mismatch"),
    ({"tenders": {"cash": -5}, "payment_method": None}, 400, "tender_mismatch"),
    ({"price_fen": 1.5}, 400, "validation_failed"),
    ({"price_fen": "十五"}, 400, "validation_failed"),
    ({"payment_method": "bitcoin"}, 400, "validation_failed"),
    ({"point": "YH002"}, 403, "terminal_point_mismatch"),
    ({"point": "NOPE"}, 404, "unknown_point"),
    ({"expected_self_pay_fen": 1}, 409, "quote_changed"),
    ({"occurred_at": "2024-05-06T11:30:00"}, 400, "bad_occurred_at"),
])
def test_bad_input_gets_a_clear_code_and_nothing_is_posted(api, site, site_b, make_diner, body, status, code):
    diner = make_diner()
    req = {"point": "YH001", "credential": diner.card, "idempotency_key": "bad-req-0001", "payment_method": "cash",
           **body}
    res = post(api, "/checkout", {k: v for k, v in req.items() if v is not None}, key=site.secret)
    assert res.status_code == status, res.content
    data = res.json()
    assert data["code"] == code
    assert data["message"]
    assert "extra" in data
    assert MealService.objects.count() == 0
    assert Transaction.objects.filter(kind="meal.checkout").count() == 0


def test_same_key_other_content_is_409(api, site, make_diner):
    diner = make_diner()
    req = {"point": "YH001", "credential": diner.card, "idempotency_key": "same-0001", "payment_method": "cash"}
    assert post(api, "/checkout", req, key=site.secret).status_code == 201
    res = post(api, "/checkout", {**req, "price_fen": 2000}, key=site.secret)
    assert res.status_code == 409
    assert res.json()["code"] == "idempotency_mismatch"


def test_no_credential_401_wrong_purpose_403(api, site, make_diner, staff):
    from minzheng.accounts.services import api_key_create

    diner = make_diner()
    body = {"point": "YH001", "credential": diner.card, "idempotency_key": "auth-0001", "payment_method": "cash"}
    assert post(api, "/checkout", body).status_code == 401
    assert post(api, "/checkout", body, key="abc.def").status_code == 401
    _, gateway = api_key_create(actor=None, name="网关", purpose="sensor_gateway", division_code="330110005001")
    res = post(api, "/checkout", body, key=gateway)
    assert res.status_code == 403
    assert res.json()["code"] == "permission_denied"


def test_operator_session_needs_csrf_and_checks_out_at_own_point(site, make_diner, staff, login):
    diner = make_diner()
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff.operator)
    session = client.session
    session["mz_auth_at"] = timezone.now().timestamp()
    session.save()
    body = {"point": "YH001", "credential": diner.card, "idempotency_key": "sess-0001", "payment_method": "cash"}
    refused = post(client, "/checkout", body)
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    client.get("/")  # a page with a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    ok = post(client, "/checkout", body, HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 201, ok.content
    assert MealService.objects.get().operator_id == staff.operator.pk


def test_void_through_the_api(api, site, make_diner):
    diner = make_diner()
    meal = post(api, "/checkout", {"point": "YH001", "credential": diner.card, "idempotency_key": "v-000001",
                                   "payment_method": "cash"}, key=site.secret).json()
    res = post(api, f"/meals/{meal['id']}/void", {"reason": "老人退餐"}, key=site.secret)
    assert res.status_code == 200
    assert res.json()["status"] == "voided"
    assert post(api, f"/meals/{meal['id']}/void", {"reason": "x"}, key=site.secret).json()["code"] == "already_voided"
    assert post(api, "/meals/999999/void", {"reason": "x"}, key=site.secret).status_code == 404
    assert post(api, f"/meals/{meal['id']}/void", {"reason": ""}, key=site.secret).status_code == 400


def test_offline_batch(api, site, make_diner):
    a, b = make_diner(), make_diner(name="李秀兰")
    t0 = timezone.now() - timedelta(hours=20)
    items = [{"credential": a.card, "idempotency_key": "off-0001", "occurred_at": t0.isoformat(),
              "payment_method": "cash"},
             {"credential": b.card, "idempotency_key": "off-0002", "occurred_at": (t0 + timedelta(minutes=1)).isoformat(),
              "payment_method": "wechat"},
             {"credential": "NOPE-0000", "idempotency_key": "off-0003", "occurred_at": t0.isoformat()}]
    res = post(api, "/checkout/batch", {"point": "YH001", "items": items}, key=site.secret)
    assert res.status_code == 200, res.content
    assert (res.json()["accepted"], res.json()["refused"]) == (2, 1)
    again = post(api, "/checkout/batch", {"point": "YH001", "items": items[:2]}, key=site.secret).json()
    assert all(i["replayed"] for i in again["items"])
    assert MealService.objects.count() == 2


def test_face_enrolment_by_the_terminal_then_face_checkout(api, site, make_diner):
    diner = make_diner()
    res = post(api, "/faces", {"point": "YH001", "credential": diner.card, "ref": "FACE-ENGINE-0001"}, key=site.secret)
    assert res.status_code == 201, res.content
    assert res.json()["ref"] == "FACE****"
    ok = post(api, "/checkout", {"point": "YH001", "credential": "face:FACE-ENGINE-0001", "idempotency_key": "f-000001",
                                 "payment_method": "cash"}, key=site.secret)
    assert ok.status_code == 201
    assert MealService.objects.get().credential == "face"


def test_list_meals_of_a_day(api, site, make_diner, staff, login):
    diner = make_diner()
    post(api, "/checkout", {"point": "YH001", "credential": diner.card, "idempotency_key": "l-000001",
                            "payment_method": "cash"}, key=site.secret)
    res = api.get(BASE + "/meals", {"point": "YH001", "date": timezone.localdate().isoformat()},
                  HTTP_X_API_KEY=site.secret)
    assert res.status_code == 200
    assert len(res.json()) == 1
    assert res.json()[0]["diner"] == "王*英"
    assert "身份证" not in res.content.decode()
