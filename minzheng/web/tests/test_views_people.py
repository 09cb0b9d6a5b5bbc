"""The person screens as a community worker sees them: search, masked numbers, reveal, export,
registration errors, error pages (DESIGN §5, §6; security AC-2, A4, A10)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from conftest import COMMUNITY_A, COMMUNITY_B, DISTRICT, WUCHANG, synthetic_id
from minzheng.people.services import household_add_member, household_create

FULL_ID = re.compile(r"\d{17}[\dXx]")
MASKED_ID = re.compile(r"\d{6}\*{8}\d{3}[\dX]")
NOT_FOUND_TEXT = "记录不存在或不在您的管辖范围内"

WANG_ID = synthetic_id(birth="19400315", seq=321)
LI_ID = synthetic_id(birth="19420620", seq=654)


@pytest.fixture
def people(make_person: Callable[..., Any], make_staff: Callable[..., Any]) -> dict[str, Any]:
    keeper = make_staff(("district_admin",), DISTRICT, username="keeper")
    wang = make_person("王秀英", COMMUNITY_A, id_number=WANG_ID, phones=["13912345678"])
    zhang = make_person("张建华", COMMUNITY_A, birth="19500505", phones=["13811112222"])
    li = make_person("李秀兰", COMMUNITY_B, id_number=LI_ID, phones=["13755556666"])
    household = household_create(actor=keeper, head=wang)
    household_add_member(actor=keeper, household=household, person=zhang, relation="spouse")
    return {"wang": wang, "zhang": zhang, "li": li, "household": household}


@pytest.fixture
def worker_client(client: Client, make_staff: Callable[..., Any], login: Callable[[Any], Client]) -> Client:
    return login(make_staff(("community_worker",), COMMUNITY_A, username="wangfang"))


def page(client: Client, url: str, status: int = 200, **headers: str) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == status, (url, response.status_code)
    body = response.content.decode()
    assert not FULL_ID.search(body), f"a full ID number leaked on {url}"
    return body


def _result_names(body: str) -> list[str]:
    return re.findall(r'<td><a href="/people/[^"]+/">([^<]+)</a></td>', body)


def _audit(event_type: str) -> list[Any]:
    return list(apps.get_model("core", "AuditEvent").objects.filter(event_type=event_type))


# --- Search ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "found"), [
    ("王秀英", ["王秀英"]),
    ("王", ["王秀英"]),
    ("wxy", ["王秀英"]),
    ("WXY", ["王秀英"]),
    ("5678", ["王秀英"]),
    (WANG_ID, ["王秀英"]),
    (WANG_ID.lower(), ["王秀英"]),
    ("", ["王秀英", "张建华"]),
    ("李秀兰", []),  # 社区B: not in the worker's area
    ("lxl", []),
    ("6666", []),
    (LI_ID, []),
    (WANG_ID[:17], []),  # a partial ID number finds nothing: exact match only
])
def test_person_search(worker_client: Client, people: dict[str, Any], query: str, found: list[str]) -> None:
    if re.search(r"\d{5}", query):  # a full or partial ID or phone number is posted, never put in a URL
        response = worker_client.post("/people/", {"q": query})
        assert response.status_code == 200
        body = response.content.decode()
        assert not FULL_ID.search(body)
    else:
        body = page(worker_client, f"/people/?q={query}")
    assert sorted(_result_names(body)) == sorted(found)
    assert f"共 {len(found)} 人" in body
    if not found:
        assert "没有符合条件的人员" in body


@pytest.mark.parametrize("headers", [{}, {"HX_Request": "true"}])
def test_id_search_names_the_number_masked(worker_client: Client, people: dict[str, Any],
                                           headers: dict[str, str]) -> None:
    response = worker_client.post("/people/", {"q": WANG_ID}, headers=headers)
    assert response.status_code == 200
    body = response.content.decode()
    assert not FULL_ID.search(body)
    assert _result_names(body) == ["王秀英"]
    assert f"查询“{people['wang'].id_masked}”" in body
    assert "导出Excel" not in body


def test_full_id_or_phone_in_a_get_url_is_not_searched(worker_client: Client, people: dict[str, Any]) -> None:
    for query in (WANG_ID, "13912345678", WANG_ID[:10]):
        response = worker_client.get(f"/people/?q={query}")
        assert response.status_code == 400
        body = response.content.decode()
        assert "不能放在网址中查询" in body
        assert _result_names(body) == []
        assert not FULL_ID.search(body)
    # the export link refuses it too, and nothing is exported
    response = worker_client.get(f"/people/export.xlsx?q={WANG_ID}")
    assert response.status_code == 302
    assert WANG_ID not in response.url
    assert _audit("person.export") == []


def test_the_search_form_never_puts_a_full_number_in_a_url(worker_client: Client, people: dict[str, Any]) -> None:
    body = page(worker_client, "/people/")
    form = re.search(r'<form class="filters card"[^>]*>', body)
    assert form
    tag = form.group(0)
    # without script the browser posts the form; with htmx, a query of 5+ digits is switched to POST
    assert 'method="post"' in tag
    assert "data-sensitive-search" in tag
    assert 'hx-params="not csrfmiddlewaretoken"' in tag, "the CSRF token stays out of GET URLs"
    assert 'hx-history="false"' in tag, "no results page is cached in localStorage"
    assert "htmx:configRequest" in body and 'event.detail.verb = "post"' in body


def test_phone_search_names_the_number_masked(worker_client: Client, people: dict[str, Any]) -> None:
    response = worker_client.post("/people/", {"q": "139 1234 5678"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert _result_names(body) == ["王秀英"]
    assert "查询“139****5678”" in body
    assert "13912345678" not in body
    assert "13912345678" not in response["HX-Push-Url"]


def test_list_shows_masked_ids_only(worker_client: Client, people: dict[str, Any]) -> None:
    body = page(worker_client, "/people/")
    assert people["wang"].id_masked in body
    assert MASKED_ID.search(body)
    assert WANG_ID not in body


def test_htmx_request_gets_only_the_results(worker_client: Client, people: dict[str, Any]) -> None:
    body = page(worker_client, "/people/?q=wxy", HX_Request="true")
    assert "<html" not in body
    assert "人员查询" not in body  # no page heading, no menu
    assert _result_names(body) == ["王秀英"]
    assert body.lstrip().startswith('<div class="resultbar')


def test_list_query_count_does_not_grow_with_the_rows(worker_client: Client, make_person: Callable[..., Any]) -> None:
    for i in range(2):
        make_person(f"陈{'一二'[i]}", COMMUNITY_A, birth=f"196{i}0101")
    with CaptureQueriesContext(connection) as two:
        assert worker_client.get("/people/").status_code == 200
    for i in range(18):
        make_person(f"周{'一二三四五六七八九十'[i % 10]}{'甲乙'[i // 10]}", COMMUNITY_A, birth=f"19{50 + i}0101")
    with CaptureQueriesContext(connection) as twenty:
        body = worker_client.get("/people/").content.decode()
    assert "共 20 人" in body
    assert len(twenty) == len(two), [q["sql"] for q in twenty.captured_queries]


# --- Detail and reveal --------------------------------------------------------------------------


def test_person_detail_shows_masked_id_and_panels(worker_client: Client, people: dict[str, Any]) -> None:
    body = page(worker_client, f"/people/{people['wang'].uid}/")
    assert "王秀英" in body
    assert people["wang"].id_masked in body
    assert MASKED_ID.search(body)
    assert "139****5678" in body
    assert "基本信息" in body
    assert "家庭成员" in body
    assert "张建华" in body  # her spouse, in the household panel
    assert "查看完整号码" in body


def test_household_page_lists_members_masked(worker_client: Client, people: dict[str, Any]) -> None:
    body = page(worker_client, f"/households/{people['household'].uid}/")
    assert "王秀英" in body
    assert "张建华" in body
    assert "户主" in body
    assert people["zhang"].id_masked in body


def test_reveal_without_a_reason_is_refused(worker_client: Client, people: dict[str, Any]) -> None:
    response = worker_client.post(f"/people/{people['wang'].uid}/reveal/", {"field": "id_number", "reason": " "})
    assert response.status_code == 400
    body = response.content.decode()
    assert "请填写查看原因" in body
    assert WANG_ID not in body
    assert _audit("person.reveal") == []


def test_reveal_with_a_reason_shows_the_number_and_audits(worker_client: Client, people: dict[str, Any]) -> None:
    response = worker_client.post(f"/people/{people['wang'].uid}/reveal/",
                                  {"field": "id_number", "reason": "核对高龄津贴申请"})
    assert response.status_code == 200
    body = response.content.decode()
    assert WANG_ID in body
    assert "已记入审计日志" in body
    [row] = _audit("person.reveal")
    assert row.actor_username == "wangfang"
    assert row.object_id == str(people["wang"].uid)
    assert row.reason == "核对高龄津贴申请"
    assert WANG_ID not in str(row.extra) + row.reason


def test_reveal_phone(worker_client: Client, people: dict[str, Any]) -> None:
    response = worker_client.post(f"/people/{people['wang'].uid}/reveal/", {"field": "phone", "reason": "电话回访"})
    assert response.status_code == 200
    assert "13912345678" in response.content.decode()
    assert len(_audit("person.reveal")) == 1


def test_minor_record_opens_only_after_an_approval(client: Client, make_person: Callable[..., Any],
                                                   make_staff: Callable[..., Any],
                                                   login: Callable[[Any], Client]) -> None:
    minor = make_person("王小明", COMMUNITY_A, birth="20150601")
    worker = make_staff(("community_worker",), COMMUNITY_A, username="wangfang")
    approver = make_staff(("township_staff",), WUCHANG, username="jiedao")

    login(worker)
    gate = page(client, f"/people/{minor.uid}/", status=403)
    assert "查阅未成年人档案须经审批" in gate
    assert minor.id_masked in gate
    assert "基本信息" not in gate
    asked = client.post(f"/people/{minor.uid}/minor-access/", {"reason": "困境儿童季度走访"})
    assert asked.status_code == 302
    assert "申请已提交" in page(client, asked.url, status=403)

    login(approver)
    queue = page(client, "/approvals/minors/")
    assert "王小明" in queue
    assert "困境儿童季度走访" in queue
    [grant_id] = re.findall(r'action="/approvals/minors/(\d+)/"', queue)
    assert client.post(f"/approvals/minors/{grant_id}/", {"decision": "approve"}).status_code == 302

    login(worker)
    opened = page(client, f"/people/{minor.uid}/")
    assert "基本信息" in opened
    assert len(_audit("person.open_minor")) == 1


# --- Export -----------------------------------------------------------------------------------


def test_export_has_only_the_viewers_area_and_masked_ids(worker_client: Client, people: dict[str, Any]) -> None:
    response = worker_client.get("/people/export.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert "attachment" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    header, *rows = [[str(c) if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)]
    assert header[:4] == ["姓名", "性别", "出生日期", "身份证号"]
    assert sorted(r[0] for r in rows) == ["张建华", "王秀英"]
    for row in rows:
        assert MASKED_ID.fullmatch(row[3])
        assert not any(FULL_ID.search(cell) for cell in row)
    [row] = _audit("person.export")
    assert row.actor_username == "wangfang"
    assert row.extra["rows"] == 2


def test_export_follows_the_search(worker_client: Client, people: dict[str, Any]) -> None:
    response = worker_client.get("/people/export.xlsx?q=wxy")
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))[1:]
    assert [r[0] for r in rows] == ["王秀英"]


# --- Registration -------------------------------------------------------------------------------


def _field_error(body: str, field: str) -> str:
    match = re.search(rf'name="{field}"(?:(?!</label>).)*</label>\s*<div class="field-error">([^<]+)</div>', body, re.S)
    assert match, f"no error next to {field}"
    return match.group(1)


def test_duplicate_id_reads_the_same_in_any_area(worker_client: Client, people: dict[str, Any]) -> None:
    def refusal(id_number: str) -> str:
        response = worker_client.post("/people/new/", {
            "name": "赵新民", "id_number": id_number, "division_code": COMMUNITY_A, "phones": "13900001111",
            "living_arrangement": "alone", "self_care": "independent",
        })
        assert response.status_code == 400
        return _field_error(response.content.decode(), "id_number")

    # 王秀英 lives in the worker's community, 李秀兰 in the sibling one: the same words for both
    assert refusal(WANG_ID) == refusal(LI_ID) == "身份证号已登记,请联系上级核实"


def test_a_minor_access_request_for_an_adult_is_refused(worker_client: Client, people: dict[str, Any]) -> None:
    response = worker_client.post(f"/people/{people['zhang'].uid}/minor-access/", {"reason": "困境儿童季度走访"})
    assert response.status_code == 302
    assert "该人员已成年,查阅档案无需审批" in page(worker_client, response.url)
    assert apps.get_model("people", "MinorAccessGrant").objects.count() == 0


@pytest.mark.parametrize(("id_number", "message"), [
    (WANG_ID[:17] + ("0" if WANG_ID[17] != "0" else "1"), "身份证号校验码错误"),
    ("12345", "身份证号须为18位,最后一位可为数字或X"),
    ("", "身份证号须为18位,最后一位可为数字或X"),
])
def test_create_with_a_bad_id_shows_the_error_and_creates_nothing(
        worker_client: Client, people: dict[str, Any], id_number: str, message: str) -> None:
    persons = apps.get_model("people", "Person").objects
    before, audited = persons.count(), len(_audit("person.create"))
    response = worker_client.post("/people/new/", {
        "name": "赵新民", "id_number": id_number, "division_code": COMMUNITY_A, "phones": "13900001111",
        "living_arrangement": "alone", "self_care": "independent",
    })
    assert response.status_code == 400
    body = response.content.decode()
    assert "请修正标红的项目后再保存" in body
    assert _field_error(body, "id_number") == message
    assert not FULL_ID.search(body), "the form does not echo an ID number back"
    assert 'value="赵新民"' in body, "the other fields are kept"
    assert persons.count() == before
    assert len(_audit("person.create")) == audited


def test_create_in_another_community_is_refused(worker_client: Client, people: dict[str, Any]) -> None:
    persons = apps.get_model("people", "Person").objects
    before = persons.count()
    response = worker_client.post("/people/new/", {
        "name": "赵新民", "id_number": synthetic_id(birth="19480303", seq=777), "division_code": COMMUNITY_B,
    })
    assert response.status_code == 400
    assert _field_error(response.content.decode(), "division_code") == "该村社不在您的管辖范围内"
    assert persons.count() == before


def test_create_registers_and_opens_the_person(worker_client: Client, people: dict[str, Any]) -> None:
    new_id = synthetic_id(birth="19480303", seq=777)
    response = worker_client.post("/people/new/", {
        "name": "赵新民", "id_number": new_id, "division_code": COMMUNITY_A, "phones": "13900001111",
        "living_arrangement": "alone", "self_care": "independent",
    })
    assert response.status_code == 302
    body = page(worker_client, response.url)
    assert "已登记 赵新民" in body
    assert new_id[:6] + "********" + new_id[-4:] in body
    assert "独居" in body


# --- Error pages -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/people/{b}/", "/people/{b}/edit/", "/households/{hb}/",
                                  "/people/00000000-0000-4000-8000-000000000000/",
                                  "/people/not-a-uid/", "/people/123/", "/households/%E7%8E%8B/"])
def test_not_found_pages_are_chinese_404s(worker_client: Client, people: dict[str, Any], make_staff: Callable[..., Any],
                                          path: str) -> None:
    keeper = apps.get_model("accounts", "Staff").objects.get(username="keeper")
    hb = household_create(actor=keeper, head=people["li"])
    body = page(worker_client, path.format(b=people["li"].uid, hb=hb.uid), status=404)
    assert NOT_FOUND_TEXT in body
    assert "李秀兰" not in body
    assert "返回上一页" in body
    assert "请求编号" in body


def test_the_home_search_box_posts_so_an_id_number_stays_out_of_urls(worker_client: Client,
                                                                     people: dict[str, Any]) -> None:
    home = worker_client.get("/").content.decode()
    form = re.search(r'<form class="search-hero"[^>]*>', home)
    assert form is not None
    assert 'method="post"' in form.group(0)
    assert 'name="csrfmiddlewaretoken"' in home
    response = worker_client.post("/people/", {"q": WANG_ID})
    assert _result_names(response.content.decode()) == ["王秀英"]
