"""JSON API of 安居守护, mounted by ``minzheng.web.api`` at ``/api/v1/safety/``:

- ``POST /api/v1/safety/ingest``  a sensor gateway posts readings (``X-API-Key`` of a
  ``sensor_gateway`` key bound to the gateway). Body: one reading, a list of readings, or
  ``{"messages": [...]}``; a reading is ``{"device", "seq", "ts", "type", "value"}``.

The answer reports each reading: ``accepted``, ``duplicate`` (already stored: the gateway may stop
resending it) or ``rejected`` with a reason (malformed, unknown device, a device of another home,
a timestamp far in the future, …). Rejections are recorded and counted and never stop the good
readings of the same request. After decoding, HTTP and MQTT share one code path
(``services.ingest.ingest_batch``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from minzheng.core.access import requires
from minzheng.core.exceptions import PermissionDenied, ValidationFailed
from minzheng.safety.enums import Channel, RejectReason
from minzheng.safety.permissions import SafetyPerm
from minzheng.safety.selectors import gateway_for_key
from minzheng.safety.services.ingest import Envelope, ingest_batch, record_rejection

router = Router(tags=["安居守护 safety"])

class ReadingIn(Schema):
    device: str = Field(..., description="设备编号", max_length=64)
    seq: int = Field(..., ge=0, description="设备自增序号; (device, seq) 唯一, 重复上报会被去重")
    ts: float | str = Field(..., description="读数时间: Unix 秒/毫秒, 或 ISO 8601 (无时区视为北京时间)")
    type: str = Field(..., description="motion door sos fall water location heartbeat battery smoke gas tamper")
    value: Any = Field(None, description="读数值: 0/1, open/closed, 升, {lat, lon}, 电量 0–100")


_READING = ReadingIn.model_json_schema()
_BODY_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {
            "oneOf": [
                _READING,
                {"type": "array", "items": _READING, "maxItems": 5000},
                {"type": "object", "properties": {"messages": {"type": "array", "items": _READING, "maxItems": 5000}}},
            ]
        }}},
    }
}


class ItemOut(Schema):
    index: int = Field(..., description="在请求中的序号(从 0 开始)")
    device: str
    seq: int | None
    status: str = Field(..., description="accepted | duplicate | rejected")
    reason: str = Field("", description="拒收原因代码")
    message: str = Field("", description="拒收说明")


class IngestOut(Schema):
    accepted: int
    duplicates: int
    rejected: int
    items: list[ItemOut]


@router.post("/ingest", response=IngestOut, summary="传感器读数上报", url_name="safety_ingest",
             openapi_extra=_BODY_SCHEMA)
@requires(SafetyPerm.INGEST)
def ingest(request: HttpRequest) -> dict[str, Any]:
    key = request.auth  # type: ignore[attr-defined]
    gateway = gateway_for_key(key=key)
    if gateway is None:
        record_rejection(channel=Channel.HTTP, reason=RejectReason.GATEWAY_UNBOUND,
                         detail="接口密钥未绑定任何网关", gateway=f"key:{getattr(key, 'prefix', '')}")
        raise PermissionDenied("该接口密钥未绑定网关", code=RejectReason.GATEWAY_UNBOUND)
    outcome = ingest_batch(channel=Channel.HTTP,
                           envelopes=[Envelope(payload=request.body, gateway_id=gateway.pk)])
    env = outcome.envelopes[0] if outcome.envelopes else None
    if env is not None and env.error:
        raise ValidationFailed({"body": env.detail or RejectReason(env.error).label}, code=env.error)
    items = env.items if env is not None else []
    return {
        "accepted": outcome.accepted,
        "duplicates": outcome.duplicates,
        "rejected": outcome.rejected,
        "items": [{"index": i.index, "device": i.device, "seq": i.seq, "status": i.status, "reason": i.reason,
                   "message": i.detail} for i in items],
    }
