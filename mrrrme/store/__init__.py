"""The database: schema, migrations, and the queries the gateway and the memory service share."""

from mrrrme.store.db import Database, async_url

__all__ = ["Database", "async_url"]
