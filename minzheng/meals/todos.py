"""The 助餐 lines of the home page's to-do list (core.navigation), counted in the member's area."""

from __future__ import annotations

from datetime import date

from minzheng.core.access import Actor
from minzheng.core.navigation import Todo, register_todo
from minzheng.meals import selectors
from minzheng.meals.enums import ClaimStatus
from minzheng.meals.permissions import MealsPerm

GROUP = "舒心养老"


def _reviews(actor: Actor, today: date) -> int:
    return selectors.review_queue(actor=actor).count()


def _reviews_overdue(actor: Actor, today: date) -> int:
    return selectors.review_overdue(actor=actor, today=today)


def _licences(actor: Actor, today: date) -> int:
    return selectors.licence_warnings(actor=actor, today=today).count()


def _exceptions(actor: Actor, today: date) -> int:
    return selectors.exception_queue(actor=actor).count()


def _claims_to_submit(actor: Actor, today: date) -> int:
    return selectors.claims_due(actor=actor, today=today)


def _claims_to_review(actor: Actor, today: date) -> int:
    return selectors.claim_list(actor=actor, status=ClaimStatus.SUBMITTED).count()


def _claims_to_approve(actor: Actor, today: date) -> int:
    return selectors.claim_list(actor=actor, status=ClaimStatus.TOWNSHIP_APPROVED).count()


def register() -> None:
    for todo in (
        Todo(GROUP, "待审核的助餐对象", "meals:review-queue", MealsPerm.REVIEW_DINER, _reviews, order=10),
        Todo(GROUP, "超过1个工作日未审核的助餐对象", "meals:review-queue", MealsPerm.REVIEW_DINER, _reviews_overdue,
             order=11, urgent=True),
        Todo(GROUP, "食品经营许可证30天内到期的助餐点", "meals:overview", MealsPerm.MANAGE_POINTS, _licences, order=20,
             urgent=True),
        Todo(GROUP, "待处理的助餐对账异常", "meals:reconciliation", MealsPerm.RECONCILE, _exceptions, order=30),
        Todo(GROUP, "上月助餐结算申请待提交", "meals:claims", MealsPerm.CLAIM_SUBMIT, _claims_to_submit, order=35),
        Todo(GROUP, "待街道审核的助餐结算申请", "meals:claims", MealsPerm.CLAIM_REVIEW, _claims_to_review, order=40),
        Todo(GROUP, "待区级审批的助餐结算申请", "meals:claims", MealsPerm.CLAIM_APPROVE, _claims_to_approve, order=41),
    ):
        register_todo(todo)
