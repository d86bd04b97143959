"""Database administration: `python -m mrrrme.store migrate | admin <username> | user <username>`.

Admin rights are granted here, on the machine that holds the database, never through the API.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy import select

from mrrrme.settings import MeshSettings
from mrrrme.store.db import Database
from mrrrme.store.schema import User


async def _set_role(db: Database, username: str, role: str) -> bool:
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.username == username.strip().lower()))
        if user is None:
            return False
        user.role = role
        return True


async def _main(args: argparse.Namespace) -> int:
    async with Database(args.database_url or MeshSettings().database_url) as db:
        if args.command == "migrate":
            await db.migrate()
            print("database schema is up to date")
            return 0
        role = "admin" if args.command == "admin" else "user"
        if not await _set_role(db, args.username, role):
            print(f"no user {args.username!r}", file=sys.stderr)
            return 1
        print(f"{args.username} is now {role}")
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m mrrrme.store", description=__doc__)
    parser.add_argument("--database-url", help="default: DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply migrations up to the newest schema")
    for name, text in (("admin", "give a user the admin role"), ("user", "take the admin role away")):
        commands.add_parser(name, help=text).add_argument("username")
    sys.exit(asyncio.run(_main(parser.parse_args())))


if __name__ == "__main__":
    main()
