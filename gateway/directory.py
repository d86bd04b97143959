"""Which service replicas are running and ready: every replica answers a health ping (no queue group)."""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from mrrrme import subjects
from mrrrme.contracts import ContractError, HealthReport, decode
from mrrrme.runtime.roundtrip import flush


async def discover(nc: NATS, timeout: float) -> list[HealthReport]:
    """Ping every replica and collect the answers that arrive within `timeout` seconds."""
    inbox = nc.new_inbox()
    reports: list[HealthReport] = []

    async def collect(msg: Msg) -> None:
        with contextlib.suppress(ContractError):
            reports.append(decode(msg.data, HealthReport))

    sub = await nc.subscribe(inbox, cb=collect)
    try:
        await nc.publish(subjects.HEALTH_PING, b"", reply=inbox)
        await flush(nc)  # a caller cancelled here must not break the connection's PONGs
        await asyncio.sleep(timeout)
    finally:
        await sub.unsubscribe()
    return sorted(reports, key=lambda r: (r.service, r.instance))


def summarise(reports: list[HealthReport]) -> dict[str, dict[str, object]]:
    services: dict[str, dict[str, object]] = {}
    for report in reports:
        entry = services.setdefault(report.service, {"replicas": 0, "ready": 0, "instances": []})
        entry["replicas"] = int(entry["replicas"]) + 1  # type: ignore[call-overload]
        entry["ready"] = int(entry["ready"]) + int(report.ready)  # type: ignore[call-overload]
        entry["instances"].append(  # type: ignore[attr-defined]
            {
                "instance": report.instance,
                "ready": report.ready,
                "detail": report.detail,
                "backend": report.backend,
            }
        )
    return services
