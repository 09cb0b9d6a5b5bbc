"""Settings of the safety app: ``settings.SAFETY`` (a dict) over environment variables over defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class SafetySettings:
    raw_retention_days: int = 90
    max_future_seconds: int = 300  # a device clock may run this far ahead; beyond it: rejected
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_client_id: str = "minzheng-safety-ingest"
    mqtt_topic: str = "minzheng/safety/+/up"
    mqtt_share_group: str = ""  # "ingest" → $share/ingest/<topic> for several consumers
    ingest_workers: int = 3  # lanes of `minzheng ingest` (readings partitioned by gateway), besides the urgent lane
    ingest_worker_processes: bool = True  # each lane in a process of its own (False: threads of one process)
    batch_size: int = 1000
    batch_seconds: float = 0.2
    tick_seconds: float = 15.0
    rejection_excerpt: int = 300


_ENV = {
    "raw_retention_days": "MINZHENG_SAFETY_RAW_RETENTION_DAYS",
    "mqtt_host": "MINZHENG_MQTT_HOST",
    "mqtt_port": "MINZHENG_MQTT_PORT",
    "mqtt_client_id": "MINZHENG_MQTT_CLIENT_ID",
    "ingest_workers": "MINZHENG_SAFETY_INGEST_WORKERS",
}


def safety_settings() -> SafetySettings:
    values: dict[str, Any] = {}
    defaults = SafetySettings()
    for name, env in _ENV.items():
        if env in os.environ:
            values[name] = type(getattr(defaults, name))(os.environ[env])
    for key, value in (getattr(settings, "SAFETY", None) or {}).items():
        values[key.lower()] = value
    return SafetySettings(**values)
