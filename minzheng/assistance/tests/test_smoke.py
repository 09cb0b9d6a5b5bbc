from datetime import date

from minzheng.assistance.tests.conftest import approve_dibao, submit_dibao


def test_dibao_end_to_end(staff, family, travel):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101"), ("spouse", "19620101")])
    app = submit_dibao(staff, people, incomes=[800, 0])
    assert app.decision_eligible, app.decision_trace
    app = approve_dibao(staff, app, travel, date(2024, 9, 3))
    assert app.status == "approved"
    app.enrolments.get()


def test_payroll_smoke(staff, family, travel):
    from minzheng.assistance.services import payroll as p
    travel(date(2024, 9, 2))
    people = family([("head", "19600101"), ("spouse", "19620101")])
    app = submit_dibao(staff, people, incomes=[800, 0])
    app = approve_dibao(staff, app, travel, date(2024, 9, 3))
    travel(date(2024, 10, 10))
    p.fund_allocate(actor=staff.district, amount_fen=10**8, key="2024-10")
    p.period_close(actor=staff.district, month="2024-10")
    roll = p.payroll_create(actor=staff.district, month="2024-10")
    roll = p.payroll_freeze(actor=staff.district, roll=roll)
    roll = p.payroll_approve(actor=staff.checker, roll=roll)
    p.payroll_bank_file(actor=staff.district, roll=roll)
    roll = p.payroll_pay(actor=staff.district, roll=roll)
