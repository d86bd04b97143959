from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mrrrme.settings import BatchSettings


class TextSettings(BatchSettings):
    model_config = SettingsConfigDict(env_prefix="MRRRME_TEXT_", extra="ignore", populate_by_name=True)

    model: str = Field(
        "j-hartmann/emotion-english-distilroberta-base",
        description="Full backend: Hugging Face id or local path",
    )
    max_batch: int = Field(16, description="Most texts in one model call")
    max_wait_ms: float = Field(
        0.0,
        description="How long a text waits for a batch to fill. 0: texts come about once per turn, so a wait "
        "rarely fills a batch; under load they queue while the model runs and go in the next batch anyway",
    )
    max_chars: int = Field(5000, description="Longer texts are refused")
    languages: str = Field(
        "en",
        description="Comma-separated languages the model and the rules read (both backends' models are English); "
        "a transcript in another language gets no text reading, and fusion weighs the face and voice",
    )
    rules: bool = Field(True, description="Apply the rule overrides (negation, intensifiers, explicit emotion words)")
