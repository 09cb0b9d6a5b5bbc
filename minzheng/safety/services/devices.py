"""Homes, kits, devices, gateways, contacts, status (外出报备), rules; device health → tickets."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from minzheng.accounts.services import api_key_create
from minzheng.core import crypto, identifiers
from minzheng.core.access import Actor, MachinePurpose
from minzheng.core.exceptions import Conflict, NotFound, ValidationFailed
from minzheng.core.services import audit_record
from minzheng.people.enums import PersonStatus
from minzheng.people.selectors import person_get
from minzheng.safety import domain
from minzheng.safety.enums import (
    AlarmState,
    AlarmType,
    DeviceKind,
    DeviceStatus,
    HomeStatus,
    KitStatus,
    Severity,
    TicketKind,
    TicketState,
)
from minzheng.safety.models import (
    Alarm,
    AlarmRule,
    Device,
    Gateway,
    Home,
    HomeContact,
    HomeState,
    Kit,
    MaintenanceTicket,
)
from minzheng.safety.permissions import SafetyPerm
from minzheng.safety.selectors import home_get
from minzheng.safety.services._common import SYSTEM, forget_rules, params_for, require, to_dt
from minzheng.safety.services.alarms import alarm_clear, alarm_raise
from minzheng.safety.services.incidents import incidents_close_for_person

SERIAL_OK = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:")


def _check_serial(value: str, field: str) -> str:
    value = (value or "").strip()
    if not 1 <= len(value) <= 64 or not set(value) <= SERIAL_OK:
        raise ValidationFailed({field: "编号须为1–64位字母、数字或 - _ . :"}, code="bad_serial")
    return value


def contact_aad(contact: HomeContact) -> str:
    return f"safety_homecontact|phone|{contact.uid}"


def _contacts(home: Home, contacts: Sequence[Mapping[str, Any]]) -> list[HomeContact]:
    rows = []
    for i, c in enumerate(contacts, start=1):
        name, relation = str(c.get("name", "")).strip(), str(c.get("relation", "")).strip()
        if not name or not relation:
            raise ValidationFailed({f"contacts.{i}": "联系人须填写姓名和关系"}, code="bad_contact")
        try:
            phone = identifiers.normalise_phone(str(c.get("phone", "")))
        except identifiers.IdentifierError as exc:
            raise ValidationFailed({f"contacts.{i}.phone": str(exc)}, code="bad_phone") from None
        row = HomeContact(home=home, name=name[:64], relation=relation[:32], priority=i,
                          phone_masked=identifiers.mask_phone(phone))
        row.phone_sealed = crypto.seal(phone, contact_aad(row))
        rows.append(row)
    return rows


def contact_phone(contact: HomeContact) -> str:
    """The full number, for the console's call button (the caller audits the reveal)."""
    return crypto.unseal(bytes(contact.phone_sealed), contact_aad(contact))


def home_register(
    *,
    actor: Actor,
    person_uid: Any,
    devices: Sequence[Mapping[str, Any]],
    contacts: Sequence[Mapping[str, Any]] = (),
    gateway_code: str = "",
    issue_key: bool = False,
    lat: float | None = None,
    lon: float | None = None,
    installed_on: date | None = None,
) -> tuple[Home, str | None]:
    """Install a kit in an elder's home: the home, its kit, devices, gateway (with an API key
    for an HTTP gateway: the secret is returned once) and emergency contacts."""
    require(actor, SafetyPerm.MANAGE_DEVICES)
    person = person_get(actor=actor, uid=person_uid)
    if person.status != PersonStatus.ACTIVE:
        raise ValidationFailed({"person_uid": "该人员已不在册"}, code="person_not_active")
    if Home.objects.filter(person=person).exclude(status=HomeStatus.INACTIVE).exists():
        raise Conflict("该老人已安装监护设备", code="home_exists")
    errors: dict[str, str] = {}
    if not devices:
        errors["devices"] = "请至少登记一台设备"
    seen: set[str] = set()
    clean_devices = []
    for i, d in enumerate(devices):
        kind = str(d.get("kind", ""))
        if kind not in DeviceKind.value_set():
            errors[f"devices.{i}.kind"] = "设备类型无效"
            continue
        serial = _check_serial(str(d.get("serial", "")), f"devices.{i}.serial")
        if serial in seen or Device.objects.filter(serial=serial).exists():
            errors[f"devices.{i}.serial"] = "设备编号已登记"
        seen.add(serial)
        clean_devices.append((kind, serial, str(d.get("place", ""))[:32]))
    if gateway_code:
        gateway_code = _check_serial(gateway_code, "gateway_code")
        if Gateway.objects.filter(code=gateway_code).exists():
            errors["gateway_code"] = "网关编号已登记"
    if (lat is None) != (lon is None) or (lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180)):  # type: ignore[operator]
        errors["lat"] = "经纬度无效"
    if errors:
        raise ValidationFailed(errors, code="bad_home")
    secret = None
    try:
        with transaction.atomic():
            home = Home.objects.create(
                code=f"AJ-{uuid.uuid4().hex[:10].upper()}", person=person, division_id=person.division_id,
                area_path=person.area_path, lat=lat, lon=lon,
            )
            kit = Kit.objects.create(home=home, code=f"K{home.code}", installed_on=installed_on or timezone.localdate())
            Device.objects.bulk_create([Device(kit=kit, home=home, kind=k, serial=s, place=p) for k, s, p in clean_devices])
            HomeContact.objects.bulk_create(_contacts(home, contacts))
            HomeState.objects.create(home=home, area_path=home.area_path)
            if gateway_code:
                _, secret = _gateway(actor, home, kit, gateway_code, issue_key)
            audit_record(actor=actor, event_type="safety.home.register", object_type="safety_home", object_id=home.code,
                         extra={"devices": len(clean_devices), "gateway": gateway_code, "key": bool(secret)})
    except IntegrityError:
        raise Conflict("登记冲突,请重试", code="home_conflict") from None
    return home, secret


def _gateway(actor: Actor, home: Home, kit: Kit, code: str, issue_key: bool) -> tuple[Gateway, str | None]:
    secret = None
    key = None
    if issue_key:
        # The key belongs to the gateway of this home only; issuing it is part of installing the
        # kit, so the installer's own permission was checked and the issue is audited here too.
        key, secret = api_key_create(actor=None, name=f"网关 {code}", purpose=MachinePurpose.SENSOR_GATEWAY,
                                     division_code=home.division_id)
    gateway = Gateway.objects.create(kit=kit, home=home, code=code, api_key=key)
    audit_record(actor=actor, event_type="safety.gateway.add", object_type="safety_gateway", object_id=code,
                 extra={"home": home.code, "key_prefix": key.prefix if key else ""})
    return gateway, secret


def gateway_add(*, actor: Actor, home_id: int, code: str, issue_key: bool = True) -> tuple[Gateway, str | None]:
    require(actor, SafetyPerm.MANAGE_DEVICES)
    home = home_get(actor=actor, pk=home_id)
    code = _check_serial(code, "code")
    if Gateway.objects.filter(code=code).exists():
        raise ValidationFailed({"code": "网关编号已登记"}, code="gateway_exists")
    with transaction.atomic():
        return _gateway(actor, home, home.kit, code, issue_key)


def device_add(*, actor: Actor, home_id: int, kind: str, serial: str, place: str = "") -> Device:
    require(actor, SafetyPerm.MANAGE_DEVICES)
    home = home_get(actor=actor, pk=home_id)
    if kind not in DeviceKind.value_set():
        raise ValidationFailed({"kind": "设备类型无效"}, code="bad_kind")
    serial = _check_serial(serial, "serial")
    if Device.objects.filter(serial=serial).exists():
        raise ValidationFailed({"serial": "设备编号已登记"}, code="device_exists")
    with transaction.atomic():
        device = Device.objects.create(kit=home.kit, home=home, kind=kind, serial=serial, place=place[:32])
        audit_record(actor=actor, event_type="safety.device.add", object_type="safety_device", object_id=serial,
                     extra={"home": home.code, "kind": kind})
        transaction.on_commit(lambda: _forget_kinds(home.pk))
    return device


def _forget_kinds(home_id: int) -> None:
    """The rules of a home depend on its kinds of sensor: ingestion's per-process memory of them
    is dropped when a device comes or goes (other processes: within its one-minute lifetime)."""
    from minzheng.safety.services.ingest import forget_home_kinds

    forget_home_kinds(home_id)


def device_retire(*, actor: Actor, device_id: int, reason: str) -> Device:
    require(actor, SafetyPerm.MANAGE_DEVICES)
    device = Device.objects.filter(pk=device_id, home__area_path__startswith=actor.scope_path).first()
    if device is None:
        raise NotFound()
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "请填写拆除原因"}, code="reason_required")
    with transaction.atomic():
        device.status = DeviceStatus.RETIRED
        device.online = True
        device.offline_due_at = None
        device.save(update_fields=["status", "online", "offline_due_at", "updated_at"])
        MaintenanceTicket.objects.filter(device=device, state=TicketState.OPEN).update(
            state=TicketState.CANCELLED, closed_at=timezone.now(), note="设备已拆除")
        audit_record(actor=actor, event_type="safety.device.retire", object_type="safety_device",
                     object_id=device.serial, reason=reason)
        transaction.on_commit(lambda: _forget_kinds(device.home_id))
    return device


def home_set_contacts(*, actor: Actor, home_id: int, contacts: Sequence[Mapping[str, Any]]) -> Home:
    require(actor, SafetyPerm.MANAGE_DEVICES)
    home = home_get(actor=actor, pk=home_id)
    with transaction.atomic():
        HomeContact.objects.filter(home=home).delete()
        HomeContact.objects.bulk_create(_contacts(home, contacts))
        audit_record(actor=actor, event_type="safety.home.contacts", object_type="safety_home", object_id=home.code,
                     extra={"count": len(contacts)})
    return home


def home_set_status(*, actor: Actor, home_id: int, status: str, until: datetime | None = None,
                    note: str = "") -> Home:
    """外出报备 / 住院 / 回家. Away and hospital suppress the absence rules until ``until``."""
    require(actor, SafetyPerm.SET_HOME_STATUS)
    home = home_get(actor=actor, pk=home_id)
    if status not in (HomeStatus.NORMAL, HomeStatus.AWAY, HomeStatus.HOSPITAL):
        raise ValidationFailed({"status": "状态无效"}, code="bad_status")
    if home.status == HomeStatus.INACTIVE:
        raise Conflict("该户已停止服务", code="home_inactive")
    now = timezone.now()
    if status != HomeStatus.NORMAL and until is not None and until <= now:
        raise ValidationFailed({"until": "截止时间应晚于现在"}, code="bad_until")
    with transaction.atomic():
        before = home.status
        home.status = status
        home.status_until = until if status != HomeStatus.NORMAL else None
        home.status_note = (note or "").strip()[:200]
        home.save(update_fields=["status", "status_until", "status_note", "updated_at"])
        HomeState.objects.filter(home=home).update(next_check_at=now)  # re-evaluate at the next tick
        audit_record(actor=actor, event_type="safety.home.status", object_type="safety_home", object_id=home.code,
                     reason=note, extra={"from": before, "to": status, "until": until.isoformat() if until else None})
    return home


def home_set_overrides(*, actor: Actor, home_id: int, overrides: Mapping[str, Any]) -> Home:
    """Per-home rule parameters (e.g. a later waking window, a wider safe zone)."""
    require(actor, SafetyPerm.MANAGE_DEVICES)
    home = home_get(actor=actor, pk=home_id)
    try:
        domain.RuleParams.build({}, overrides)
    except domain.ParamError as exc:
        raise ValidationFailed({exc.field: exc.message}, code="bad_param") from None
    with transaction.atomic():
        before = home.rule_overrides
        home.rule_overrides = dict(overrides)
        home.save(update_fields=["rule_overrides", "updated_at"])
        HomeState.objects.filter(home=home).update(next_check_at=timezone.now())
        audit_record(actor=actor, event_type="safety.home.rule_overrides", object_type="safety_home",
                     object_id=home.code, extra={"before": before, "after": dict(overrides)})
    return home


def alarm_rule_set(*, actor: Actor, alarm_type: str, severity: str, params: Mapping[str, Any],
                   effective_from: date, source: str, enabled: bool = True) -> AlarmRule:
    """A new version of a rule, in force from ``effective_from``."""
    require(actor, SafetyPerm.MANAGE_DEVICES)
    try:
        domain.RuleParams.build({alarm_type: {"enabled": enabled, "severity": severity, "params": dict(params)}})
    except domain.ParamError as exc:
        raise ValidationFailed({exc.field: exc.message}, code="bad_rule") from None
    if not (source or "").strip():
        raise ValidationFailed({"source": "请注明参数依据"}, code="source_required")
    with transaction.atomic():
        rule, _ = AlarmRule.objects.update_or_create(
            alarm_type=alarm_type, effective_from=effective_from,
            defaults={"severity": severity, "params": dict(params), "enabled": enabled, "source": source.strip()[:300]},
        )
        audit_record(actor=actor, event_type="safety.rule.set", object_type="safety_rule", object_id=rule.pk,
                     extra={"type": alarm_type, "from": effective_from.isoformat(), "params": dict(params)})
    transaction.on_commit(forget_rules)
    return rule


# --- Device health -----------------------------------------------------------------------------


def ticket_open(*, device_id: int, home: Home, kind: str, at: datetime, note: str) -> MaintenanceTicket | None:
    """Open a repair ticket unless one of the kind is already open for the device."""
    if MaintenanceTicket.objects.filter(device_id=device_id, kind=kind, state=TicketState.OPEN).exists():
        return None
    try:
        with transaction.atomic():
            ticket = MaintenanceTicket.objects.create(device_id=device_id, home=home, area_path=home.area_path,
                                                      kind=kind, opened_at=at, note=note[:300])
    except IntegrityError:
        return None
    audit_record(actor=SYSTEM, event_type="safety.ticket.open", object_type="safety_ticket", object_id=ticket.pk,
                 extra={"device": device_id, "kind": kind})
    return ticket


def ticket_auto_close(*, device_id: int, kind: str, at: datetime, note: str) -> int:
    n = MaintenanceTicket.objects.filter(device_id=device_id, kind=kind, state=TicketState.OPEN).update(
        state=TicketState.DONE, closed_at=at, note=note[:300])
    if n:
        audit_record(actor=SYSTEM, event_type="safety.ticket.auto_close", object_type="safety_device",
                     object_id=device_id, extra={"kind": kind})
    return n


def ticket_close(*, actor: Actor, ticket_id: int, note: str) -> MaintenanceTicket:
    require(actor, SafetyPerm.MANAGE_DEVICES)
    ticket = MaintenanceTicket.objects.filter(pk=ticket_id, area_path__startswith=actor.scope_path).first()
    if ticket is None:
        raise NotFound()
    if ticket.state != TicketState.OPEN:
        raise Conflict("工单已关闭", code="ticket_closed")
    with transaction.atomic():
        ticket.state = TicketState.DONE
        ticket.closed_at = timezone.now()
        ticket.note = (note or "").strip()[:300]
        ticket.save(update_fields=["state", "closed_at", "note", "updated_at"])
        audit_record(actor=actor, event_type="safety.ticket.close", object_type="safety_ticket", object_id=ticket.pk)
    return ticket


def _offline_signal(home: Home, now: datetime) -> domain.Signal:
    offline = list(
        Device.objects.filter(home=home, online=False, status=DeviceStatus.ACTIVE)
        .values_list("serial", "kind", "last_seen_at")
    )
    return domain.Signal(
        "raise", AlarmType.DEVICE_OFFLINE, Severity.WARNING, now.timestamp(),
        {"devices": [{"serial": s, "kind": k, "last_seen_at": t.isoformat() if t else None} for s, k, t in offline]},
    )


def devices_mark_offline(*, now: datetime, limit: int = 2000) -> int:
    """Devices not heard from for the offline limit: offline, a repair ticket, a WARNING alarm.
    Kept apart from "the elder is inactive": a dead battery never reads as an elder who is fine."""
    due = list(
        Device.objects.filter(online=True, status=DeviceStatus.ACTIVE, offline_due_at__lte=now,
                              kit__status=KitStatus.ACTIVE)
        .values_list("pk", "home_id")[:limit]
    )
    homes: dict[int, list[int]] = {}
    for pk, home_id in due:
        homes.setdefault(home_id, []).append(pk)
    n = 0
    for home_id, device_ids in homes.items():
        with transaction.atomic():
            home = Home.objects.get(pk=home_id)
            marked = list(
                Device.objects.select_for_update().filter(pk__in=device_ids, online=True, offline_due_at__lte=now)
            )
            for device in marked:
                device.online = False
                device.save(update_fields=["online", "updated_at"])
                last = timezone.localtime(device.last_seen_at).strftime("%m-%d %H:%M") if device.last_seen_at else "从未"
                ticket_open(device_id=device.pk, home=home, kind=TicketKind.OFFLINE, at=now,
                            note=f"{device.get_kind_display()} {device.serial} 离线(最近通信 {last})")
                n += 1
            if marked:
                alarm_raise(home=home, sig=_offline_signal(home, now), now=now)
    return n


def device_back_online(*, home: Home, device_id: int, now: datetime) -> None:
    ticket_auto_close(device_id=device_id, kind=TicketKind.OFFLINE, at=now, note="设备已恢复通信")
    if not Device.objects.filter(home=home, online=False, status=DeviceStatus.ACTIVE).exclude(pk=device_id).exists():
        alarm_clear(home=home, alarm_type=AlarmType.DEVICE_OFFLINE, at=now, reason="设备已恢复通信")
    else:
        alarm = Alarm.objects.filter(home=home, alarm_type=AlarmType.DEVICE_OFFLINE, state=AlarmState.ACTIVE).first()
        if alarm is not None:
            alarm_raise(home=home, sig=_offline_signal(home, now), now=now)


def offline_due(home_overrides: Mapping[str, Any] | None, now: datetime) -> datetime:
    return now + timedelta(seconds=domain.device_offline_after(params_for(dict(home_overrides or {}))))


# --- Ending the service ------------------------------------------------------------------------


def home_deactivate_for_person(*, person_id: int, reason: str, at: datetime | None = None) -> int:
    """The elder died or moved out: the kit stops (its messages are refused from now on), open
    incidents close with the reason, alarms clear and repair tickets are cancelled."""
    at = at or timezone.now()
    homes = list(Home.objects.select_for_update().filter(person_id=person_id).exclude(status=HomeStatus.INACTIVE))
    for home in homes:
        home.status = HomeStatus.INACTIVE
        home.status_until = None
        home.status_note = reason[:200]
        home.save(update_fields=["status", "status_until", "status_note", "updated_at"])
        Kit.objects.filter(home=home).update(status=KitStatus.DEACTIVATED, deactivated_at=at,
                                             deactivation_reason=reason[:200], updated_at=at)
        for alarm in Alarm.objects.filter(home=home, state=AlarmState.ACTIVE):
            alarm_clear(home=home, alarm_type=alarm.alarm_type, at=at, reason="服务终止")
        HomeState.objects.filter(home=home).update(active_alarms=[], next_check_at=None)
        MaintenanceTicket.objects.filter(home=home, state=TicketState.OPEN).update(
            state=TicketState.CANCELLED, closed_at=at, note="服务终止")
        audit_record(actor=SYSTEM, event_type="safety.home.deactivate", object_type="safety_home",
                     object_id=home.code, reason=reason)
    incidents_close_for_person(person_id=person_id, reason=reason, at=at)
    return len(homes)


def home_deactivate(*, actor: Actor, home_id: int, reason: str) -> Home:
    require(actor, SafetyPerm.MANAGE_DEVICES)
    home = home_get(actor=actor, pk=home_id)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "请填写停用原因"}, code="reason_required")
    with transaction.atomic():
        home_deactivate_for_person(person_id=home.person_id, reason=reason.strip())
        audit_record(actor=actor, event_type="safety.home.deactivate_request", object_type="safety_home",
                     object_id=home.code, reason=reason)
    home.refresh_from_db()
    return home


def expire_home_statuses(*, now: datetime) -> int:
    """Away/hospital registrations whose end has passed: back to normal (audited)."""
    n = 0
    for home in Home.objects.filter(status__in=(HomeStatus.AWAY, HomeStatus.HOSPITAL), status_until__lte=now):
        with transaction.atomic():
            before = home.status
            home.status, home.status_until = HomeStatus.NORMAL, None
            home.save(update_fields=["status", "status_until", "updated_at"])
            HomeState.objects.filter(home=home).update(next_check_at=now)
            audit_record(actor=SYSTEM, event_type="safety.home.status", object_type="safety_home",
                         object_id=home.code, reason="报备到期", extra={"from": before, "to": HomeStatus.NORMAL})
        n += 1
    return n


def to_datetime(t: float | None) -> datetime | None:
    return to_dt(t)
