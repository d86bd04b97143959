"""The asr worker: utterances -> transcripts, in the language of the session's preferences (or detected)."""

from __future__ import annotations

import numpy as np

from mrrrme import subjects
from mrrrme.audio import utterance_audio
from mrrrme.contracts import Transcript, Utterance
from mrrrme.runtime import BadInput, Consumes, ModelService, Ready
from services.asr.backends import BACKENDS, AsrBackend, Recognition
from services.asr.settings import AsrSettings

AsrInput = tuple[np.ndarray, str | None]
"""The audio (float32, 16 kHz) and the language to recognise (None: detect)."""


class AsrService(ModelService[AsrSettings, Utterance, AsrInput, Recognition]):
    name = "asr"
    backends = BACKENDS
    backend: AsrBackend
    consumes = Consumes(subjects.ALL_UTTERANCES, Utterance, subjects.ASR_QUEUE, subjects.transcript)

    def __init__(self, settings: AsrSettings) -> None:
        super().__init__(settings)
        # Speculative recognition: the gateway sends the audio so far when a silence begins and keeps the
        # answer to itself until the turn is judged complete (gateway/vad.py).
        self.answer_requests(subjects.ALL_EARLY_UTTERANCES)

    def warm_up(self) -> None:
        self.backend.transcribe(np.zeros(16000, dtype=np.float32), "en")

    def prepare(self, utterance: Utterance) -> AsrInput | Ready:
        audio = utterance_audio(utterance, self.settings.max_seconds)
        early = utterance.early
        if early is None:
            return audio, utterance.language
        if early.session_id != utterance.session_id:
            raise BadInput("bad_message", "the early transcript belongs to another session")
        # Recognised already, from this very audio, while the end of the turn was decided.
        return Ready(self.respond(utterance, (audio, utterance.language), Recognition(
            early.text, early.language, early.no_speech_prob, early.words)))  # fmt: skip

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
