"""The text worker: micro-batches of transcripts -> text emotion (model, then the documented rules)."""

from __future__ import annotations

from mrrrme import emotions, subjects
from mrrrme.contracts import TextEmotion, Transcript, reading_from_probabilities
from mrrrme.runtime import BadInput, BatchPolicy, Service
from mrrrme.runtime.model_worker import run_main, serve_model
from services.text import rules
from services.text.backends import TextBackend, load_backend
from services.text.settings import TextSettings


class TextAnalyser:
    def __init__(self, settings: TextSettings, backend: TextBackend) -> None:
        self.settings = settings
        self.backend = backend
        self.languages = {code.strip().lower() for code in settings.languages.split(",") if code.strip()}

    def reads(self, transcript: Transcript) -> bool:
        """An English model scoring German words would only add noise: other languages get no reading.
        A transcript with no language (typed text before preferences) is read."""
        language = (transcript.language or "").split("-")[0].lower()
        return not language or language in self.languages

    def check(self, transcript: Transcript) -> str | BadInput | None:
        if not self.reads(transcript):
            return None
        text = transcript.text.strip()
        if not text:
            return BadInput("empty_text", "the transcript is empty: there are no words to read emotion from")
        if len(text) > self.settings.max_chars:
            return BadInput(
                "text_too_long",
                f"the text has {len(text)} characters; the limit is {self.settings.max_chars}",
            )
        return text

    def warm_up(self) -> None:
        self.backend.classify(["warming up the model"])

    def analyse(self, transcripts: list[Transcript]) -> list[TextEmotion | BadInput]:
        checked = [self.check(t) for t in transcripts]
        scores = iter(self.backend.classify([c for c in checked if isinstance(c, str)]))
        results: list[TextEmotion | BadInput] = []
        for transcript, text in zip(transcripts, checked, strict=True):
            if isinstance(text, BadInput):
                results.append(text)
                continue
            if text is None:
                results.append(TextEmotion(session_id=transcript.session_id, utterance_id=transcript.utterance_id,
                                           reading=None))  # fmt: skip
                continue
            probabilities = emotions.to_four(next(scores))
            if self.settings.rules:
                probabilities, _fired = rules.apply(text, probabilities)
            results.append(
                TextEmotion(
                    session_id=transcript.session_id,
                    utterance_id=transcript.utterance_id,
                    reading=reading_from_probabilities(probabilities),
                )
            )
        return results


def build(settings: TextSettings) -> Service:
    service = Service("text", settings, backend=settings.backend_name)
    serve_model(
        service,
        subject=subjects.ALL_TRANSCRIPTS,
        schema=Transcript,
        queue=subjects.TEXT_QUEUE,
        policy=BatchPolicy(settings.max_batch, settings.max_wait_ms, max(64, settings.max_batch)),
        load=lambda: TextAnalyser(settings, load_backend(settings)),
        warm_up=TextAnalyser.warm_up,
        analyse=TextAnalyser.analyse,
        reply_to=subjects.text_emotion,
    )
    return service


def main() -> None:
    run_main(TextSettings, build)
