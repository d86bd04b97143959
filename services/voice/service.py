"""The voice worker: micro-batches of utterances -> voice emotion; no speech is flagged, not classified."""

from __future__ import annotations

import numpy as np

from mrrrme import emotions, subjects
from mrrrme.audio import has_speech, utterance_audio
from mrrrme.contracts import Utterance, VoiceEmotion
from mrrrme.runtime import Consumes, ModelService, Ready
from services.voice.backends import BACKENDS, VoiceBackend
from services.voice.settings import VoiceSettings


class VoiceService(ModelService[VoiceSettings, Utterance, np.ndarray, dict[str, float]]):
    name = "voice"
    backends = BACKENDS
    backend: VoiceBackend
    consumes = Consumes(subjects.ALL_UTTERANCES, Utterance, subjects.VOICE_QUEUE, subjects.voice_emotion)

    def warm_up(self) -> None:
        tone = 0.3 * np.sin(2 * np.pi * 140 * np.arange(16000) / 16000).astype(np.float32)
        self.backend.classify([tone])

    def _event(self, utterance: Utterance, scores: dict[str, float] | None) -> VoiceEmotion:
        return VoiceEmotion(
            session_id=utterance.session_id,
            utterance_id=utterance.utterance_id,
            reading=emotions.reading(scores) if scores is not None else None,
            speech=scores is not None,
            started_at=utterance.started_at,
            ended_at=utterance.ended_at,
        )

    def prepare(self, utterance: Utterance) -> np.ndarray | Ready:
        clip = utterance_audio(utterance, self.settings.max_seconds)
        # The speech check is cheap and backend-independent: silence, noise and hum are not classified.
        return clip if has_speech(clip) else Ready(self._event(utterance, None))

    def infer(self, inputs: list[np.ndarray]) -> list[dict[str, float]]:
        return self.backend.classify(inputs)

    def respond(self, utterance: Utterance, prepared: np.ndarray, output: dict[str, float]) -> VoiceEmotion:
        return self._event(utterance, output)
