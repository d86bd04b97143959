from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mrrrme.settings import BatchSettings


class AsrSettings(BatchSettings):
    model_config = SettingsConfigDict(env_prefix="MRRRME_ASR_", extra="ignore", populate_by_name=True)

    model: str = Field(
        "distil-large-v3",
        description="Full backend: faster-whisper size/alias (distil-large-v3 = distil-whisper's CTranslate2 "
        "conversion) or a local CTranslate2 model directory",
    )
    compute_type: str = Field("auto", description="Full backend: auto (float16 on CUDA, int8 on CPU) or a CT2 type")
    beam_size: int = Field(5, description="Full backend: beam search width")
    no_speech_threshold: float = Field(0.6, description="Segments more likely silence than this are dropped")
    log_prob_threshold: float = Field(-1.0, description="...when their average log-probability is also below this")
    whisper_threads: int = Field(2, description="Whisper tiny.en (lite): CPU threads of the decoder")
    whisper_beam_size: int = Field(
        5,
        description="Whisper tiny.en (lite): beam width. 5 reads unseen voices far better than greedy 1 (7.9 % "
        "against 13.8 % clean, docs/benchmarks.md) for ~35 ms more an utterance, which speculative recognition "
        "hides; 1 on a machine short of CPU",
    )
    whisper_window_s: int = Field(
        10,
        description="Whisper tiny.en (lite): the shortest encoder window, in seconds (Whisper's own is 30). An "
        "utterance is decoded in the shortest window from this one up, in 5 s steps, that it fills to at most "
        "two thirds: ~3x faster than 30 s at the same word error rate (docs/benchmarks.md); 30: always 30 s",
    )
    whisper_vad_filter: bool = Field(
        False,
        description="Whisper tiny.en (lite): run faster-whisper's Silero filter inside each utterance as well "
        "(~85 ms an utterance; the gateway's VAD already cut it and the speech check already ran)",
    )
    max_batch: int = Field(
        1,
        description="Most utterances taken per model-thread turn; both recognisers decode one at a time, so "
        "more only makes the first of a batch wait for the others",
    )
    max_wait_ms: float = Field(0.0, description="How long an utterance waits for a batch to fill (one at a time: none)")
    max_seconds: float = Field(30.0, description="Longer utterances are refused")
