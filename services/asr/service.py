"""The asr worker: utterances -> transcripts, in the language of the session's preferences (or detected)."""

from __future__ import annotations

import numpy as np

from mrrrme import subjects
from mrrrme.audio import utterance_audio
from mrrrme.contracts import Transcript, Utterance
from mrrrme.runtime import BadInput, BatchPolicy, Service
from mrrrme.runtime.model_worker import run_main, serve_model
from services.asr.backends import AsrBackend, load_backend
from services.asr.settings import AsrSettings


class Recogniser:
    def __init__(self, settings: AsrSettings, backend: AsrBackend) -> None:
        self.settings = settings
        self.backend = backend

    def transcribe(self, utterances: list[Utterance]) -> list[Transcript | BadInput]:
        """One after another on the model thread: recognisers decode one stream at a time."""
        results: list[Transcript | BadInput] = []
        for utterance in utterances:
            try:
                audio = utterance_audio(utterance, self.settings.max_seconds)
            except BadInput as refused:
                results.append(refused)
                continue
            recognition = self.backend.transcribe(audio, utterance.language)
            results.append(
                Transcript(
                    session_id=utterance.session_id,
                    utterance_id=utterance.utterance_id,
                    text=recognition.text,
                    language=recognition.language,
                    no_speech_prob=recognition.no_speech_prob,
                    words=recognition.words,
                    started_at=utterance.started_at,
                    ended_at=utterance.ended_at,
                )
            )
        return results

    def warm_up(self) -> None:
        self.backend.transcribe(np.zeros(16000, dtype=np.float32), "en")


def build(settings: AsrSettings) -> Service:
    service = Service("asr", settings, backend=settings.backend_name)
    serve_model(
        service,
        subject=subjects.ALL_UTTERANCES,
        schema=Utterance,
        queue=subjects.ASR_QUEUE,
        policy=BatchPolicy(settings.max_batch, settings.max_wait_ms, max(64, settings.max_batch)),
        load=lambda: Recogniser(settings, load_backend(settings)),
        warm_up=Recogniser.warm_up,
        analyse=Recogniser.transcribe,
        reply_to=subjects.transcript,
    )
    return service


def main() -> None:
    run_main(AsrSettings, build)
