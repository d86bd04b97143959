from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mrrrme.settings import ServiceSettings


class FusionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MRRRME_FUSION_", extra="ignore", populate_by_name=True)

    face_weight: float = Field(0.4, description="Base weight of the face")
    voice_weight: float = Field(0.3, description="Base weight of the voice")
    text_weight: float = Field(0.3, description="Base weight of the words")
    weights_file: str = Field(
        "",
        description="Fusion fitted on data (`python -m mrrrme.eval fit-fusion`): its JSON file replaces the three "
        "base weights and the quality factors, or the weighted average itself (a logistic model); empty: the fixed "
        "weights above",
    )
    deadline_s: float = Field(
        3.0, description="How long after its transcript a turn waits for late emotions before fusing what arrived"
    )
    transcript_wait_s: float = Field(
        30.0,
        description="How long an utterance waits for its transcript (the turn itself) before its emotions are "
        "fused without one, and no reply",
    )
    face_window_s: float = Field(0.5, description="Faces this long before/after the utterance count for it")
    live_interval_s: float = Field(1.0, description="At most one live face-only estimate per session this often")
    state_ttl_s: int = Field(300, description="Redis state of a session expires this long after its last event")
