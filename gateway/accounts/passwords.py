"""Password hashing (argon2id) and the password policy (TARGETS.md A1, A2).

The hash parameters are OWASP's argon2id profile with one more pass (m=19 MiB, t=3, p=1): with t=2 a
verify took ~32 ms on the 2-core development machine, under the 50 ms floor of TARGETS.md A1
(bench/logins.py). At most four hashes run at once, so a burst of logins cannot take more than ~80 MiB.
A stored hash made with other parameters is upgraded at the next successful login.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
MAX_BYTES = 1024
"""Longer input is refused before hashing: a megabyte password must not cost a megabyte of hashing."""
COMMON_CHECKED = 10_000
"""How many of the most common leaked passwords (zxcvbn's ranked list) are refused."""

HASHER = PasswordHasher(time_cost=3, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16)
_SLOTS = asyncio.Semaphore(4)


class PolicyError(ValueError):
    pass


@functools.cache
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"][:COMMON_CHECKED])


def check_policy(password: str, username: str = "") -> None:
    """Length and a common-password list, nothing else: no composition rules (NIST 800-63B)."""
    if len(password.encode()) > MAX_BYTES:
        raise PolicyError(f"password is longer than {MAX_BYTES} bytes")
    if len(password) < MIN_LENGTH:
        raise PolicyError(f"password must be at least {MIN_LENGTH} characters (15 or more is better)")
    if password.lower() in _common():
        raise PolicyError("this password is on the list of commonly used passwords: choose another")
    if username and password.lower() == username.lower():
        raise PolicyError("password must not be the username")


async def hash_password(password: str) -> str:
    async with _SLOTS:
        return await asyncio.to_thread(HASHER.hash, password)


_DUMMY = HASHER.hash("not a real password: verified for unknown users so timing reveals nothing")


async def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches; for an unknown user (`stored` None) a dummy verify costs the same."""
    if len(password.encode()) > MAX_BYTES:
        return False
    async with _SLOTS:
        try:
            return await asyncio.to_thread(HASHER.verify, stored or _DUMMY, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def needs_rehash(stored: str) -> bool:
    return HASHER.check_needs_rehash(stored)
