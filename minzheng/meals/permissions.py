"""Who may do what in 智慧助餐. Registered in ``MealsConfig.ready()``.

Area scope comes on top of these: staff see and review diners and points inside their own
division subtree; a canteen operator works at the points bound to them (``PointOperator``) and a
checkout terminal at the one point its key is bound to (``PointTerminal``).
"""

from enum import StrEnum

from minzheng.core.access import Grantee, MachinePurpose, Role

AREA_STAFF: set[Grantee] = {Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF, Role.COMMUNITY_WORKER}


class MealsPerm(StrEnum):
    VIEW = "meals.view"  # points, diners (masked), meals, statistics in one's area
    CHECKOUT = "meals.checkout"  # identify, quote, confirm at one's own point
    VOID = "meals.void"  # void/refund a meal by ledger reversal, with a reason
    ENROL_FACE = "meals.enrol_face"  # a terminal issues a face-enrolment reference (no images)
    REGISTER_DINER = "meals.register_diner"  # register from the people registry; credentials; leave
    REVIEW_DINER = "meals.review_diner"  # approve/reject a registration (not one's own)
    MANAGE_POINTS = "meals.manage_points"  # points, slots, licences, terminals, operators
    MANAGE_RULES = "meals.manage_rules"  # pricing and subsidy rule sets
    MANAGE_WALLETS = "meals.manage_wallets"  # 电子津贴 grants, expiry, clawback
    RECONCILE = "meals.reconcile"  # daily reconciliation and its exceptions queue
    CLAIM_SUBMIT = "meals.claim_submit"  # an operator's monthly claim
    CLAIM_REVIEW = "meals.claim_review"  # 街道 review of a claim
    CLAIM_APPROVE = "meals.claim_approve"  # 区 approval, payment file
    CLEARING = "meals.clearing"  # cross-district clearing statements
    INTEROP = "meals.interop"  # the city system / a peer district (全城通吃)


# 三员 hold none of these (they see no person-level data, AC-3).
GRANTS: dict[MealsPerm, set[Grantee]] = {
    MealsPerm.VIEW: AREA_STAFF | {Role.CANTEEN_OPERATOR, MachinePurpose.CANTEEN_TERMINAL},
    MealsPerm.CHECKOUT: {Role.CANTEEN_OPERATOR, MachinePurpose.CANTEEN_TERMINAL},
    MealsPerm.VOID: {Role.CANTEEN_OPERATOR, MachinePurpose.CANTEEN_TERMINAL, Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF},
    MealsPerm.ENROL_FACE: {MachinePurpose.CANTEEN_TERMINAL},
    MealsPerm.REGISTER_DINER: AREA_STAFF,
    MealsPerm.REVIEW_DINER: AREA_STAFF,
    MealsPerm.MANAGE_POINTS: {Role.DISTRICT_ADMIN},
    MealsPerm.MANAGE_RULES: {Role.DISTRICT_ADMIN},
    MealsPerm.MANAGE_WALLETS: {Role.DISTRICT_ADMIN},
    MealsPerm.RECONCILE: {Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF},
    MealsPerm.CLAIM_SUBMIT: {Role.CANTEEN_OPERATOR},
    MealsPerm.CLAIM_REVIEW: {Role.TOWNSHIP_STAFF},
    MealsPerm.CLAIM_APPROVE: {Role.DISTRICT_ADMIN},
    MealsPerm.CLEARING: {Role.DISTRICT_ADMIN},
    MealsPerm.INTEROP: {MachinePurpose.PEER_SYSTEM},
}
