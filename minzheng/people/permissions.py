from enum import StrEnum

from minzheng.core.access import Grantee, MachinePurpose, Role

BUSINESS_ROLES: set[Grantee] = {
    Role.DISTRICT_ADMIN,
    Role.TOWNSHIP_STAFF,
    Role.COMMUNITY_WORKER,
    Role.CASEWORKER,
}


class PeoplePerm(StrEnum):
    VIEW_PERSON = "people.view_person"
    CHANGE_PERSON = "people.change_person"
    REVEAL_IDENTIFIER = "people.reveal_identifier"  # see a full ID or phone number (audited)
    EXPORT_PERSON = "people.export_person"
    RECORD_LIFE_EVENT = "people.record_life_event"  # death, moving out
    APPROVE_MINOR_ACCESS = "people.approve_minor_access"  # open a minor's record (AC-4)
    APPROVE_EXPORT = "people.approve_export"  # a bulk export above the approval threshold (AC-5)


# 三员 (system, security, audit admins) hold none of these: they see no person records (AC-3).
GRANTS: dict[PeoplePerm, set[Grantee]] = {
    PeoplePerm.VIEW_PERSON: BUSINESS_ROLES | {Role.MONITORING_OPERATOR, MachinePurpose.PEER_SYSTEM},
    PeoplePerm.CHANGE_PERSON: {Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF, Role.COMMUNITY_WORKER},
    PeoplePerm.REVEAL_IDENTIFIER: {Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF, Role.COMMUNITY_WORKER, Role.CASEWORKER},
    PeoplePerm.EXPORT_PERSON: {Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF, Role.COMMUNITY_WORKER},
    PeoplePerm.RECORD_LIFE_EVENT: {Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF, Role.COMMUNITY_WORKER},
    PeoplePerm.APPROVE_MINOR_ACCESS: {Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF},
    PeoplePerm.APPROVE_EXPORT: {Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF},
}
