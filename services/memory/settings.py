from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mrrrme.settings import ServiceSettings


class MemorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MRRRME_MEMORY_", extra="ignore", populate_by_name=True)

    migrate_on_start: bool = Field(True, description="Apply database migrations at start (off when a job does it)")
    retention_days: float = Field(
        365.0, description="Messages, timeline points and summaries older than this are deleted (0: keep)"
    )
    retention_check_s: float = Field(3600.0, description="How often the retention purge runs")
    summary_timeout_s: float = Field(30.0, description="How long to wait for dialogue to write a summary")
    summary_lines: int = Field(40, description="Most recent messages of a session given to the summary")
