from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mrrrme.settings import BatchSettings


class VoiceSettings(BatchSettings):
    model_config = SettingsConfigDict(env_prefix="MRRRME_VOICE_", extra="ignore", populate_by_name=True)

    model: str = Field("superb/hubert-large-superb-er", description="Full backend: Hugging Face id or local path")
    max_batch: int = Field(8, description="Most utterances in one model call")
    max_wait_ms: float = Field(
        0.0,
        description="How long an utterance waits for a batch to fill. 0: utterances come about once per turn; "
        "under load they queue while the model runs and go in the next batch anyway",
    )
    max_seconds: float = Field(30.0, description="Longer utterances are refused")
