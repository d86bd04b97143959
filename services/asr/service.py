"""The asr worker: utterances -> transcripts, in the language of the session's preferences (or detected)."""

from __future__ import annotations

import numpy as np

from mrrrme import subjects
from mrrrme.audio import utterance_audio
from mrrrme.contracts import Transcript, Utterance
from mrrrme.runtime import Consumes, ModelService
from services.asr.backends import BACKENDS, AsrBackend, Recognition
from services.asr.settings import AsrSettings

AsrInput = tuple[np.ndarray, str | None]
"""The audio (float32, 16 kHz) and the language to recognise (None: detect)."""


class AsrService(ModelService[AsrSettings, Utterance, AsrInput, Recognition]):
    name = "asr"
    backends = BACKENDS
    backend: AsrBackend
    consumes = Consumes(subjects.ALL_UTTERANCES, Utterance, subjects.ASR_QUEUE, subjects.transcript)

    def warm_up(self) -> None:
        self.backend.transcribe(np.zeros(16000, dtype=np.float32), "en")

    def prepare(self, utterance: Utterance) -> AsrInput:
        return utterance_audio(utterance, self.settings.max_seconds), utterance.language

    def infer(self, inputs: list[AsrInput]) -> list[Recognition]:
        """One after another: recognisers decode one stream at a time."""
        return [self.backend.transcribe(audio, language) for audio, language in inputs]

    def respond(self, utterance: Utterance, prepared: AsrInput, output: Recognition) -> Transcript:
        return Transcript(
            session_id=utterance.session_id,
            utterance_id=utterance.utterance_id,
            text=output.text,
            language=output.language,
            no_speech_prob=output.no_speech_prob,
            words=output.words,
            started_at=utterance.started_at,
            ended_at=utterance.ended_at,
        )
