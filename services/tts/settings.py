from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mrrrme.settings import ModelSettings


class TtsSettings(ModelSettings):
    model_config = SettingsConfigDict(env_prefix="MRRRME_TTS_", extra="ignore", populate_by_name=True)

    model: str = Field(
        "tts_models/multilingual/multi-dataset/xtts_v2", description="Full backend: Coqui model name or local dir"
    )
    female_speaker: str = Field("Ana Florence", description="Full backend: XTTS speaker for voice=female")
    male_speaker: str = Field("Damien Black", description="Full backend: XTTS speaker for voice=male")
    max_chars: int = Field(600, description="Longer sentences are cut (a reply sentence is short)")
    ack_wait_s: float = Field(
        5.0,
        description="A reply sentence whose worker went silent this long is redelivered (a crashed worker; a "
        "working one marks it in progress every third of this)",
    )
