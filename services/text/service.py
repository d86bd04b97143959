"""The text worker: micro-batches of transcripts -> text emotion (model, then the documented rules)."""

from __future__ import annotations

from mrrrme import emotions, subjects
from mrrrme.contracts import TextEmotion, Transcript, reading_from_probabilities
from mrrrme.runtime import BadInput, Consumes, ModelService, Ready
from services.text import rules
from services.text.backends import BACKENDS, TextBackend
from services.text.settings import TextSettings


class TextService(ModelService[TextSettings, Transcript, str, dict[str, float]]):
    name = "text"
    backends = BACKENDS
    backend: TextBackend
    consumes = Consumes(subjects.ALL_TRANSCRIPTS, Transcript, subjects.TEXT_QUEUE, subjects.text_emotion)

    def __init__(self, settings: TextSettings) -> None:
        super().__init__(settings)
        self.languages = {code.strip().lower() for code in settings.languages.split(",") if code.strip()}

    def warm_up(self) -> None:
        self.backend.classify(["warming up the model"])

    def reads(self, transcript: Transcript) -> bool:
        """An English model scoring German words would only add noise: other languages get no reading.
        A transcript with no language (typed text before preferences) is read."""
        language = (transcript.language or "").split("-")[0].lower()
        return not language or language in self.languages

    def prepare(self, transcript: Transcript) -> str | Ready:
        if not self.reads(transcript):
            return Ready(TextEmotion(session_id=transcript.session_id, utterance_id=transcript.utterance_id,
                                     reading=None))  # fmt: skip
        text = transcript.text.strip()
        if not text:
            raise BadInput("empty_text", "the transcript is empty: there are no words to read emotion from")
        if len(text) > self.settings.max_chars:
            raise BadInput(
                "text_too_long", f"the text has {len(text)} characters; the limit is {self.settings.max_chars}"
            )
        return text

    def infer(self, inputs: list[str]) -> list[dict[str, float]]:
        return self.backend.classify(inputs)

    def respond(self, transcript: Transcript, prepared: str, output: dict[str, float]) -> TextEmotion:
        probabilities = emotions.to_four(output)
        if self.settings.rules:
            probabilities, _fired = rules.apply(prepared, probabilities)
        return TextEmotion(
            session_id=transcript.session_id,
            utterance_id=transcript.utterance_id,
            reading=reading_from_probabilities(probabilities),
        )
