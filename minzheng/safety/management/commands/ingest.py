"""``minzheng ingest``: consume sensor readings from MQTT (Mosquitto) into the database.

    minzheng ingest                         # settings.SAFETY / MINZHENG_MQTT_* or 127.0.0.1:1883
    minzheng ingest --host 10.0.0.5 --share ingest   # one of several consumers ($share/ingest/...)
    minzheng ingest --workers 4             # four lanes, each in a process of its own
    minzheng ingest --threads               # the lanes as threads of one process
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from minzheng.core import context
from minzheng.safety.conf import safety_settings
from minzheng.safety.management.mqtt import IngestConsumer

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "从 MQTT 接收传感器读数并写入数据库(QoS 1, 持久会话, 固定客户端 ID)"

    def add_arguments(self, parser: Any) -> None:
        cfg = safety_settings()
        parser.add_argument("--host", default=cfg.mqtt_host)
        parser.add_argument("--port", type=int, default=cfg.mqtt_port)
        parser.add_argument("--client-id", default=cfg.mqtt_client_id)
        parser.add_argument("--topic", default=cfg.mqtt_topic)
        parser.add_argument("--share", default=cfg.mqtt_share_group, help="shared-subscription group")
        parser.add_argument("--workers", type=int, default=cfg.ingest_workers,
                            help="lanes (readings partitioned by gateway), besides the urgent lane")
        parser.add_argument("--threads", action="store_true", default=not cfg.ingest_worker_processes,
                            help="run the lanes as threads of this process instead of processes")
        parser.add_argument("--batch-size", type=int, default=cfg.batch_size)
        parser.add_argument("--batch-seconds", type=float, default=cfg.batch_seconds)
        parser.add_argument("--max-messages", type=int, default=None, help="stop after this many (tests, benches)")
        parser.add_argument("--idle-exit", type=float, default=None, help="stop after this many idle seconds")

    def handle(self, *args: Any, **o: Any) -> None:
        context.bind(context.RequestContext(request_id="ingest", ip=None, channel="task"))
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        if o["workers"] < 1:
            raise CommandError("--workers: 至少 1 个通道")
        consumer = IngestConsumer(host=o["host"], port=o["port"], client_id=o["client_id"], topic=o["topic"],
                                  share_group=o["share"], batch_size=o["batch_size"],
                                  batch_seconds=o["batch_seconds"], workers=o["workers"],
                                  worker_processes=not o["threads"])
        consumer.start()
        self.stdout.write(f"安居守护接入: {o['host']}:{o['port']} {consumer.topic} (client id {o['client_id']}, "
                          f"{o['workers']} 个{'线程' if o['threads'] else '进程'}通道)")
        try:
            stats = consumer.run(stop, max_envelopes=o["max_messages"], idle_exit=o["idle_exit"])
        finally:
            consumer.stop()
        self.stdout.write(
            f"received {stats.received}, processed {stats.envelopes}, accepted {stats.accepted}, "
            f"duplicates {stats.duplicates}, rejected {stats.rejected}, batches {stats.batches}"
        )
