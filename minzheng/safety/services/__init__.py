"""Writes of 安居守护. Every function: one transaction, keyword-only ``actor`` for staff actions
(the platform itself acts as ``SYSTEM``), an audit row per state change, side effects on commit.

The console calls the incident transitions; ingestion, the scheduler and event handlers call the
rest. See each module: ``devices`` (registry and health), ``ingest``, ``alarms``, ``incidents``,
``early_warning``, ``handlers``, ``seed``.
"""

from minzheng.safety.services._common import SYSTEM, current_rules, forget_rules, params_for
from minzheng.safety.services.devices import (
    alarm_rule_set,
    contact_phone,
    device_add,
    device_retire,
    devices_mark_offline,
    gateway_add,
    home_deactivate,
    home_deactivate_for_person,
    home_register,
    home_set_contacts,
    home_set_overrides,
    home_set_status,
    ticket_close,
)
from minzheng.safety.services.early_warning import (
    baseline_refresh,
    daily_scores_compute,
    weekly_risk_compute,
)
from minzheng.safety.services.incidents import (
    CareCheck,
    care_check_open,
    incident_acknowledge,
    incident_add_note,
    incident_arrive,
    incident_close,
    incident_dispatch,
    incident_log_call,
    incident_reopen,
    incident_resolve,
    incident_start_follow_up,
    incident_start_verification,
    incidents_escalate_due,
)
from minzheng.safety.services.ingest import (
    BatchOutcome,
    Envelope,
    homes_evaluate_due,
    ingest_batch,
    raw_event_purge,
    record_rejection,
)

__all__ = [
    "SYSTEM", "BatchOutcome", "CareCheck", "Envelope", "alarm_rule_set", "baseline_refresh", "care_check_open",
    "contact_phone", "current_rules", "daily_scores_compute", "device_add", "device_retire", "devices_mark_offline",
    "forget_rules", "gateway_add", "home_deactivate", "home_deactivate_for_person", "home_register",
    "home_set_contacts", "home_set_overrides", "home_set_status", "homes_evaluate_due", "incident_acknowledge",
    "incident_add_note", "incident_arrive", "incident_close", "incident_dispatch", "incident_log_call",
    "incident_reopen", "incident_resolve", "incident_start_follow_up", "incident_start_verification",
    "incidents_escalate_due", "ingest_batch", "params_for", "raw_event_purge", "record_rejection", "ticket_close",
    "weekly_risk_compute",
]
