"""Time limits in working days across the National Day holiday (statutory holidays and the
weekend days worked in exchange), by hand-counted calendars, at the domain and through the services."""

from __future__ import annotations

from datetime import date, timedelta

from minzheng.assistance import domain
from minzheng.assistance.selectors import applications_overdue
from minzheng.assistance.services import applications as s
from minzheng.assistance.tests.conftest import PDF


def test_fifteen_working_days_across_national_day_2023():
    # 29 Sep – 6 Oct 2023 off (中秋 + 国庆); Sat 7 and Sun 8 Oct worked.
    # After Wed 27 Sep: 28 Sep, 7, 8, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 23, 24 Oct → the 15th is 24 Oct.
    due, estimated = domain.add_working_days(date(2023, 9, 27), 15)
    assert (due, estimated) == (date(2023, 10, 24), False)
    assert domain.add_working_days(date(2023, 9, 27), 15)[0] - date(2023, 9, 27) == timedelta(days=27)


def test_fifteen_working_days_across_national_day_2024():
    # 1 – 7 Oct 2024 off; Sun 29 Sep and Sat 12 Oct worked.
    # After Fri 27 Sep: 29, 30 Sep, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 21, 22, 23 Oct → 23 Oct.
    assert domain.add_working_days(date(2024, 9, 27), 15) == (date(2024, 10, 23), False)
    # the same count without the holiday calendar would have ended on Fri 18 Oct
    plain, day = 0, date(2024, 9, 27)
    while plain < 15:
        day += timedelta(days=1)
        plain += day.weekday() < 5
    assert day == date(2024, 10, 18)


def test_review_and_notice_limits_over_the_holiday():
    assert domain.review_deadline(date(2023, 9, 28)).due == date(2023, 10, 11)  # 7, 8, 9, 10, 11 Oct
    assert domain.denial_notice_deadline(date(2024, 9, 30)).due == date(2024, 10, 10)  # 8, 9, 10 Oct
    assert domain.publicity_end(date(2024, 9, 28)) == date(2024, 10, 4)  # 公示 counts calendar days
    assert domain.working_days_between(date(2024, 9, 27), date(2024, 10, 23)) == 15


def test_years_the_calendar_does_not_know_are_estimated():
    due, estimated = domain.add_working_days(date(2031, 3, 3), 5)  # Mon → next Mon
    assert (due, estimated) == (date(2031, 3, 10), True)


def test_acceptance_over_national_day_sets_the_deadline_and_overdue_shows(staff, family, travel):
    travel(date(2024, 9, 27))
    people = family([("head", "19600101")])
    app = s.application_create(actor=staff.worker_a, program="dibao", applicant_uid=people[0].uid, reason="困难")
    s.attachment_add(actor=staff.worker_a, application=app, kind="authorization", filename="a.pdf", content=PDF)
    s.application_submit(actor=staff.worker_a, application=app)
    app = s.application_accept(actor=staff.township, application=app)
    assert (app.accepted_on, app.prelim_due, app.deadlines_estimated) == (date(2024, 9, 27), date(2024, 10, 23), False)
    travel(date(2024, 10, 23))
    assert not applications_overdue(actor=staff.township, on=date(2024, 10, 23)).exists()
    assert s.overdue(app, date(2024, 10, 23)) == []
    travel(date(2024, 10, 24))
    assert list(applications_overdue(actor=staff.township, on=date(2024, 10, 24))) == [app]
    assert s.overdue(app, date(2024, 10, 24)) == ["初审超期(应于 2024-10-23 前完成)"]
    assert not applications_overdue(actor=staff.township_other, on=date(2024, 10, 24)).exists()


def _todo(html: str, label: str) -> tuple[str, str] | None:
    """(css class, count) of a to-do line on the home page, None when it is not there."""
    import re

    m = re.search(r'<a href="[^"]*" class="([^"]*)"><span>' + re.escape(label) + r"</span><b>(\d+)</b>", html)
    return (m.group(1), m.group(2)) if m else None


def test_the_home_page_lists_an_overdue_application_as_urgent_in_its_area_only(staff, family, travel, client, login):
    travel(date(2024, 9, 27))
    people = family([("head", "19600101")])
    app = s.application_create(actor=staff.worker_a, program="dibao", applicant_uid=people[0].uid, reason="困难")
    s.attachment_add(actor=staff.worker_a, application=app, kind="authorization", filename="a.pdf", content=PDF)
    s.application_submit(actor=staff.worker_a, application=app)
    s.application_accept(actor=staff.township, application=app)
    travel(date(2024, 10, 24))
    html = login(staff.township).get("/").content.decode()
    assert _todo(html, "超过法定时限的救助申请") == ("urgent", "1")
    assert _todo(html, "在办救助申请") == ("", "1")
    assert "待办事项" in html
    # the neighbouring township sees nothing of it; a member without the permission has no such line
    html = login(staff.township_other).get("/").content.decode()
    assert _todo(html, "超过法定时限的救助申请") == ("clear", "0")
    assert _todo(html, "待审核的发放名册") is None  # approving rolls is the district's
    assert _todo(login(staff.checker).get("/").content.decode(), "待审核的发放名册") == ("clear", "0")
