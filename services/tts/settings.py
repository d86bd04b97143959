from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mrrrme.settings import ServiceSettings


class TtsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MRRRME_TTS_", extra="ignore", populate_by_name=True)

    backend: Literal["lite", "full"] | None = Field(None, description="Voice engine; default: MRRRME_PROFILE")
    model: str = Field(
        "tts_models/multilingual/multi-dataset/xtts_v2", description="Full backend: Coqui model name or local dir"
    )
    device: str = Field("auto", description="Full backend: auto (CUDA when available), cpu, cuda")
    female_speaker: str = Field("Ana Florence", description="Full backend: XTTS speaker for voice=female")
    male_speaker: str = Field("Damien Black", description="Full backend: XTTS speaker for voice=male")
    max_chars: int = Field(600, description="Longer sentences are cut (a reply sentence is short)")

    @property
    def backend_name(self) -> str:
        return self.backend or self.profile
