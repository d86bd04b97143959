"""The voice worker: micro-batches of utterances -> voice emotion; no speech is flagged, not classified."""

from __future__ import annotations

import numpy as np

from mrrrme import emotions, subjects
from mrrrme.audio import has_speech, utterance_audio
from mrrrme.contracts import Utterance, VoiceEmotion
from mrrrme.runtime import BadInput, BatchPolicy, Service
from mrrrme.runtime.model_worker import run_main, serve_model
from services.voice.backends import VoiceBackend, load_backend
from services.voice.settings import VoiceSettings


class VoiceAnalyser:
    def __init__(self, settings: VoiceSettings, backend: VoiceBackend) -> None:
        self.settings = settings
        self.backend = backend

    def analyse(self, utterances: list[Utterance]) -> list[VoiceEmotion | BadInput]:
        clips: list[np.ndarray | BadInput] = []
        for utterance in utterances:
            try:
                clips.append(utterance_audio(utterance, self.settings.max_seconds))
            except BadInput as refused:
                clips.append(refused)
        # The speech check is cheap and backend-independent: silence, noise and hum are not classified.
        speech = [not isinstance(c, BadInput) and has_speech(c) for c in clips]
        scores = iter(self.backend.classify([c for c, s in zip(clips, speech, strict=True) if s]))  # type: ignore[misc]
        results: list[VoiceEmotion | BadInput] = []
        for utterance, clip, is_speech in zip(utterances, clips, speech, strict=True):
            if isinstance(clip, BadInput):
                results.append(clip)
            else:
                results.append(
                    VoiceEmotion(
                        session_id=utterance.session_id,
                        utterance_id=utterance.utterance_id,
                        reading=emotions.reading(next(scores)) if is_speech else None,
                        speech=is_speech,
                        started_at=utterance.started_at,
                        ended_at=utterance.ended_at,
                    )
                )
        return results

    def warm_up(self) -> None:
        tone = 0.3 * np.sin(2 * np.pi * 140 * np.arange(16000) / 16000).astype(np.float32)
        self.backend.classify([tone])


def build(settings: VoiceSettings) -> Service:
    service = Service("voice", settings, backend=settings.backend_name)
    serve_model(
        service,
        subject=subjects.ALL_UTTERANCES,
        schema=Utterance,
        queue=subjects.VOICE_QUEUE,
        policy=BatchPolicy(settings.max_batch, settings.max_wait_ms, max(64, settings.max_batch)),
        load=lambda: VoiceAnalyser(settings, load_backend(settings)),
        warm_up=VoiceAnalyser.warm_up,
        analyse=VoiceAnalyser.analyse,
        reply_to=subjects.voice_emotion,
    )
    return service


def main() -> None:
    run_main(VoiceSettings, build)
