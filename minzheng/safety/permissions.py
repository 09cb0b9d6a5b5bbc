from enum import StrEnum

from minzheng.core.access import Grantee, MachinePurpose, Role


class SafetyPerm(StrEnum):
    VIEW = "safety.view"  # homes, kits, devices, alarms and incidents in one's area
    HANDLE_INCIDENT = "safety.handle_incident"  # the 24 h console: every step of an incident
    RESPOND_INCIDENT = "safety.respond_incident"  # be dispatched: arrive, note, resolve on site
    SET_HOME_STATUS = "safety.set_home_status"  # 外出报备 / hospital / back home
    MANAGE_DEVICES = "safety.manage_devices"  # homes, kits, devices, gateways, tickets, rules
    VIEW_METRICS = "safety.view_metrics"  # time to acknowledge, compliance, reports
    INGEST = "safety.ingest"  # a sensor gateway posts readings


AREA_STAFF: set[Grantee] = {Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF, Role.COMMUNITY_WORKER}

# 三员 hold none of these (they see no person-level data, AC-3).
GRANTS: dict[SafetyPerm, set[Grantee]] = {
    SafetyPerm.VIEW: AREA_STAFF | {Role.MONITORING_OPERATOR},
    SafetyPerm.HANDLE_INCIDENT: {Role.MONITORING_OPERATOR},
    SafetyPerm.RESPOND_INCIDENT: AREA_STAFF | {Role.MONITORING_OPERATOR},
    SafetyPerm.SET_HOME_STATUS: AREA_STAFF | {Role.MONITORING_OPERATOR},
    SafetyPerm.MANAGE_DEVICES: {Role.DISTRICT_ADMIN, Role.MONITORING_OPERATOR},
    SafetyPerm.VIEW_METRICS: {Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF, Role.MONITORING_OPERATOR},
    SafetyPerm.INGEST: {MachinePurpose.SENSOR_GATEWAY},
}
