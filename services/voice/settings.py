from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mrrrme.settings import ServiceSettings


class VoiceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MRRRME_VOICE_", extra="ignore", populate_by_name=True)

    backend: Literal["lite", "full"] | None = Field(None, description="Voice emotion method; default: MRRRME_PROFILE")
    model: str = Field("superb/hubert-large-superb-er", description="Full backend: Hugging Face id or local path")
    device: str = Field("auto", description="Full backend: auto (CUDA when available), cpu, cuda...")
    max_batch: int = Field(8, description="Most utterances in one model call")
    max_wait_ms: float = Field(20.0, description="How long an utterance waits for a batch to fill")
    max_seconds: float = Field(30.0, description="Longer utterances are refused")

    @property
    def backend_name(self) -> str:
        return self.backend or self.profile
