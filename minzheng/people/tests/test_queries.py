"""Reads cost a fixed number of queries, whatever the page size (no N+1 on the list page)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from minzheng.divisions.selectors import division_index
from minzheng.people.selectors import person_get, person_list, person_search
from minzheng.people.tests.data import COMMUNITY_A, COMMUNITY_B, make_id

GIVEN = "秀英桂英玉兰建国志强丽华明德文华春花海燕"


def _register(make_person, count: int, start: int = 0) -> None:
    """``count`` persons named 王…, each with two phones, in both communities of 五常."""
    for i in range(start, start + count):
        make_person(
            name="王" + GIVEN[i % len(GIVEN)] + GIVEN[(i * 7 + 3) % len(GIVEN)],
            division=COMMUNITY_A if i % 2 else COMMUNITY_B,
            id_number=make_id("19500101", 500 + i),
            phones=[f"1380000{i:04d}", f"1390000{i:04d}"],
        )


def _render(people) -> list[tuple[str, str, str, str]]:
    """What the list template reads for each row."""
    return [(p.name, p.division.short_name, p.id_masked, p.get_gender_display()) for p in people]


def _count_queries(read) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        rows = _render(read())
    return len(ctx.captured_queries), len(rows)


def test_list_page_costs_the_same_for_2_and_20_persons(
    make_person, township, django_assert_num_queries
):
    township.has_permission("people.view_person")  # the actor's roles are loaded once per request

    def page():
        return person_list(actor=township)[:20]

    _register(make_person, 2)
    small, shown_small = _count_queries(page)
    _register(make_person, 18, start=2)
    large, shown_large = _count_queries(page)

    assert (shown_small, shown_large) == (2, 20)
    assert small == large
    with django_assert_num_queries(1):
        _render(page())


def test_search_results_cost_the_same_for_2_and_20_matches(make_person, township):
    township.has_permission("people.view_person")

    def search():
        return person_search(actor=township, query="王")[1]

    division_index()  # the divisions are reference data, read once per process
    _register(make_person, 2)
    small, shown_small = _count_queries(search)
    _register(make_person, 18, start=2)
    large, shown_large = _count_queries(search)

    assert (shown_small, shown_large) == (2, 20)
    assert small == large == 1


def test_person_page_reads_phones_in_one_query(make_person, township, django_assert_num_queries):
    township.has_permission("people.view_person")
    _register(make_person, 1)
    (person,) = person_list(actor=township)

    # The person with division and household in one query, then all phones in a second
    with django_assert_num_queries(2):
        got = person_get(actor=township, uid=person.uid)
        masked = [p.masked for p in got.phones.all()]
        short = got.division.short_name

    assert masked == ["138****0000", "139****0000"]
    assert short == "沿山河社区"
