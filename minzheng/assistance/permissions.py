"""Who may do what in 精准救助 (least privilege; 三员 hold none of these).

Separation of duties is enforced twice: by grants (a 社区 worker can investigate but never approve)
and by the services (the approver of an application is never its investigator; the approver of a
payroll roll is never the member who generated it). Authority limits by level (township vs district)
are in ``domain.approval_level`` and checked against the actor's scope depth.
"""

from enum import StrEnum

from minzheng.core.access import Grantee, Role


class AssistancePerm(StrEnum):
    VIEW = "assistance.view"  # applications, enrolments, visits in one's area
    APPLY = "assistance.apply"  # register an application on a resident's behalf, upload evidence
    ACCEPT = "assistance.accept"  # 受理 / 不予受理 (乡镇/街道)
    CHECK_ECONOMY = "assistance.check_economy"  # 家庭经济状况核对: incomes and assets with evidence
    INVESTIGATE = "assistance.investigate"  # 入户调查 and the preliminary opinion
    PUBLICIZE = "assistance.publicize"  # 公示, objections, the masked 公示 list
    APPROVE = "assistance.approve"  # 审批 within the actor's level's authority
    EMERGENCY_PAY = "assistance.emergency_pay"  # 临时救助先行救助
    MANAGE_ENROLMENT = "assistance.manage_enrolment"  # reviews, 渐退, exits, adjustments
    RUN_PAYROLL = "assistance.run_payroll"  # close a month, generate a roll, pay an approved roll
    APPROVE_PAYROLL = "assistance.approve_payroll"  # review and approve a roll (not its maker)
    EXPORT_BANK_FILE = "assistance.export_bank_file"  # the bank file holds full account numbers
    RECORD_VISIT = "assistance.record_visit"  # 探访 and 幸福清单
    VIEW_REPORTS = "assistance.view_reports"  # compliance, 应保尽保 / 应退尽退 by township
    OUTREACH = "assistance.outreach"  # the proactive-discovery worklist
    WHATIF = "assistance.whatif"  # district-wide policy simulation
    RECORD_SERVICE = "assistance.record_service"  # rescues, 助联体 projects, 善居工程




def _roles(*roles: Grantee) -> set[Grantee]:
    return set(roles)


_FRONTLINE = _roles(Role.COMMUNITY_WORKER, Role.CASEWORKER)
_OFFICE = _roles(Role.TOWNSHIP_STAFF, Role.DISTRICT_ADMIN)

GRANTS: dict[AssistancePerm, set[Grantee]] = {
    AssistancePerm.VIEW: _FRONTLINE | _OFFICE,
    AssistancePerm.APPLY: _roles(Role.COMMUNITY_WORKER, Role.CASEWORKER, Role.TOWNSHIP_STAFF),
    AssistancePerm.ACCEPT: _OFFICE,
    AssistancePerm.CHECK_ECONOMY: _OFFICE,
    AssistancePerm.INVESTIGATE: _FRONTLINE | _OFFICE,  # the district joins investigations (抽查)
    AssistancePerm.PUBLICIZE: _roles(Role.COMMUNITY_WORKER, Role.TOWNSHIP_STAFF),
    AssistancePerm.APPROVE: _OFFICE,
    AssistancePerm.EMERGENCY_PAY: _OFFICE,
    AssistancePerm.MANAGE_ENROLMENT: _OFFICE,
    AssistancePerm.RUN_PAYROLL: _roles(Role.DISTRICT_ADMIN),
    AssistancePerm.APPROVE_PAYROLL: _roles(Role.DISTRICT_ADMIN),
    AssistancePerm.EXPORT_BANK_FILE: _roles(Role.DISTRICT_ADMIN),
    AssistancePerm.RECORD_VISIT: _FRONTLINE | _roles(Role.TOWNSHIP_STAFF),
    AssistancePerm.VIEW_REPORTS: _roles(Role.COMMUNITY_WORKER) | _OFFICE,
    AssistancePerm.OUTREACH: _FRONTLINE | _OFFICE,
    AssistancePerm.WHATIF: _roles(Role.DISTRICT_ADMIN),
    AssistancePerm.RECORD_SERVICE: _roles(Role.COMMUNITY_WORKER) | _OFFICE,
}
