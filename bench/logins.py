"""Login cost and enumeration timing (TARGETS.md A1, A6): argon2id hash and verify latency, and the
time of a wrong-password login for an existing user versus a login of an unknown user.

.venv/bin/python -m bench.logins [--trials 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import platform
import statistics
import tempfile
import time

from gateway.accounts.passwords import hash_password, verify_password
from gateway.accounts.service import AccountError, Accounts
from mrrrme.store import Database


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


async def _timed_login(accounts: Accounts, name: str) -> float:
    started = time.perf_counter()
    with contextlib.suppress(AccountError):
        await accounts.login(name, "definitely the wrong password")
    return time.perf_counter() - started


async def run(trials: int) -> None:
    hashes, verifies = [], []
    for _ in range(20):
        started = time.perf_counter()
        stored = await hash_password("violet-otter-cobalt")
        hashes.append(time.perf_counter() - started)
        started = time.perf_counter()
        await verify_password(stored, "violet-otter-cobalt")
        verifies.append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        async with Database(f"sqlite:///{tmp}/bench.db") as db:
            await db.migrate()
            accounts = Accounts(db, dt.timedelta(minutes=30), dt.timedelta(hours=24))
            await accounts.signup("existing-user", "violet-otter-cobalt")
            known, unknown = [], []
            for i in range(trials):  # interleaved, so drift of the machine hits both alike
                known.append(await _timed_login(accounts, "existing-user"))
                unknown.append(await _timed_login(accounts, f"nobody-{i}"))
    difference = (statistics.median(known) - statistics.median(unknown)) * 1000
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    print(f"argon2id hash (m=19 MiB, t=3, p=1): {_ms(hashes)}; verify: {_ms(verifies)}")
    print(f"wrong password, existing user ({trials}): {_ms(known)}")
    print(f"unknown user ({trials}): {_ms(unknown)}")
    print(f"median difference: {difference:+.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=200)
    asyncio.run(run(parser.parse_args().trials))


if __name__ == "__main__":
    main()
