"""Running items through the mesh's own services: one `Prediction` per item and modality, with timing.

Each modality goes through exactly what the mesh runs: the service is found in the registry
(`mrrrme.registry.service(name)`), built from its settings (`MRRRME_<SERVICE>_*` from the environment,
the backend as `--backend` names it), loaded and warmed up, and given the contract messages it consumes
(`Frame`, `Utterance`, `Transcript`). Its answer is the event it would publish, so the backend, the
label mapping (`mrrrme.emotions.to_four`), the no-speech check and the text rules all count. Fused
predictions come from the fusion service's own rules (`services/fusion/rules.py`'s `fuse`, with the
faces of an utterance joined by its `aggregate_faces`) on the three readings. This package never
imports a service module; everything is found through the registry (tests/test_registry.py).

Two engines:
- `InProcess`: each service's `process(units)` in this process (no NATS). Times are the service's own
  work per item (JPEG decode, detection, the model, the rules); batches of `batch` items share one model
  call and split its time evenly.
- `Mesh`: the same units published over NATS to running services (a private nats-server with the
  services started in this process, or `nats_url` for a mesh already running) and their events
  collected, so the transport counts too. Times run from the publish to the event's arrival. 7-class
  scores do not cross the mesh (the events carry the four classes), so `scores7` is None there. A mesh
  already running must not run fusion or dialogue: the transcripts sent for the text modality would
  become turns there.

Latency of the fused prediction is the sum of the modalities' times of that item (the in-process cost
of reading all of it, one after the other; on a mesh face, voice and asr run side by side).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import msgspec
import numpy as np

from mrrrme import registry, subjects
from mrrrme.contracts import EmotionReading, Frame, Transcript, Utterance, new_id, now
from mrrrme.eval.datasets import canonical
from mrrrme.eval.media import decode_clip, to_jpeg, to_pcm16
from mrrrme.eval.types import Item, Modality, Prediction

AsrMode = Literal["off", "missing", "always"]
"""`missing`: speech items without a transcript are recognised for the text modality; `always`: every
speech item's words come from the recogniser (the mesh's real path), the dataset's transcript unused."""
SERVICE_OF: dict[str, str] = {"face": "face", "voice": "voice", "text": "text", "asr": "asr"}


@dataclass(frozen=True)
class Options:
    modalities: tuple[Modality, ...] = ("face", "voice", "text", "fused")
    backends: dict[str, str] = field(default_factory=dict)
    """Service name -> backend name (`lite`, `full`, `sphinx`, ...); unnamed ones use the settings' choice."""
    asr: AsrMode = "off"
    batch: int = 1
    fusion_weights: Any = None
    """What `services.fusion.learned.load` read from a `fit-fusion` weights file (fixed weights or a logistic
    model; `--weights`); None: the seed's fixed weights."""

    def services(self) -> list[str]:
        needed: set[str] = {m for m in self.modalities if m != "fused"}
        if "fused" in self.modalities:
            needed |= {"face", "voice", "text"}
        if self.asr != "off" and "text" in needed:
            needed.add("asr")
        return [name for name in ("face", "voice", "asr", "text") if name in needed]


@dataclass
class Inputs:
    """What an item gives the services: JPEG frames (one image, or a clip's middle frames), its speech
    (16 kHz mono PCM16) and its words."""

    frames: list[bytes]
    pcm: np.ndarray | None
    text: str | None


def inputs_of(item: Item, options: Options) -> Inputs:
    """Decode the item's media in memory (only what the chosen modalities read)."""
    wants_face = "face" in options.modalities or "fused" in options.modalities
    wants_sound = bool({"voice", "fused"} & set(options.modalities)) or options.asr != "off"
    frames: list[bytes] = []
    pcm = None
    if wants_face and item.image is not None:
        frames = [to_jpeg(item.image, face_crop=item.meta.get("face_crop") == "1")]
    if item.audio is not None and wants_sound:
        pcm = to_pcm16(item.audio)
    if item.video is not None and (wants_face or wants_sound):
        clip = decode_clip(item.video, frames=(0.35, 0.5, 0.65) if wants_face else ())
        frames = frames or clip.frames
        pcm = pcm if pcm is not None else clip.pcm
    return Inputs(frames=frames, pcm=pcm, text=item.text)


@dataclass
class Said:
    """One modality's answer for one item."""

    reading: EmotionReading | None
    seconds: float
    quality: float | None = None
    scores7: dict[str, float] | None = None
    speech: bool = True
    refused: str | None = None
    """The service's refusal code (`BadInput`, or an error event on the mesh), when it refused."""


FOUR_LABELS = {"neutral", "happy", "sad", "angry"}


def _scores7(scores: dict[str, float]) -> dict[str, float] | None:
    """The model's own label scores in the datasets' spelling (anger -> angry, joy -> happy ...); None
    when the model speaks only the four classes (the lite text head, the prosody rule): nothing to add."""
    merged: dict[str, float] = {}
    for label, score in scores.items():
        key = canonical(label)
        merged[key] = merged.get(key, 0.0) + float(score)
    return merged if set(merged) - FOUR_LABELS else None


def _join_faces(frames: list[Said]) -> Said:
    """An item's face from its frames, as fusion joins the faces seen during an utterance."""
    seconds = sum(f.seconds for f in frames)
    read = [f for f in frames if f.reading is not None]
    if not read:
        refused = next((f.refused for f in frames if f.refused), None)
        return Said(reading=None, seconds=seconds, refused=refused)
    aggregate = registry.load_object("services.fusion.rules:aggregate_faces")
    reading, quality = aggregate([(f.reading, f.quality or 0.0) for f in read])
    with_scores = [f.scores7 for f in read if f.scores7]
    scores7 = None
    if with_scores:
        labels = sorted({label for scores in with_scores for label in scores})
        scores7 = {label: float(np.mean([s.get(label, 0.0) for s in with_scores])) for label in labels}
    return Said(reading=reading, seconds=seconds, quality=quality, scores7=scores7)


def _quality(event: Any) -> float | None:
    """The figure fusion weighs a reading by: the face's quality, speech present (1) or not (0) for the
    voice; the text's length is set where the text is known."""
    if hasattr(event, "speech"):
        return 1.0 if event.speech else 0.0
    quality = getattr(event, "quality", None)
    return float(quality) if quality is not None else None


class Engine:
    """Reads batches of face frames, speech and words; `InProcess` and `Mesh` differ only in transport."""

    def faces(self, frames: Sequence[bytes]) -> list[Said]:
        raise NotImplementedError

    def voices(self, clips: Sequence[np.ndarray]) -> list[Said]:
        raise NotImplementedError

    def words(self, clips: Sequence[np.ndarray]) -> list[str | None]:
        raise NotImplementedError

    def texts(self, texts: Sequence[str]) -> list[Said]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_settings(name: str, options: Options, **overrides: Any) -> Any:
    """The service's settings from the environment, with the backend the options name."""
    manifest = registry.service(SERVICE_OF[name])
    backend = options.backends.get(name)
    values = {**({"backend": backend} if backend else {}), **overrides}
    return manifest.settings_class()(**values)


def _frame(jpeg: bytes, seq: int, session: str) -> Frame:
    return Frame(session_id=session, seq=seq, jpeg=jpeg, width=0, height=0, ts=now())


def _utterance(pcm: np.ndarray, session: str, language: str | None = "en") -> Utterance:
    ended = now()
    return Utterance(
        session_id=session,
        utterance_id=new_id(),
        pcm=pcm.astype("<i2").tobytes(),
        started_at=ended - len(pcm) / 16000,
        ended_at=ended,
        language=language,
    )


def _transcript(text: str, session: str) -> Transcript:
    return Transcript(session_id=session, utterance_id=new_id(), text=text, source="typed")


class InProcess(Engine):
    """Each service's own pipeline (`ModelService.process`) in this process."""

    SESSION = "eval"

    def __init__(self, options: Options) -> None:
        self.options = options
        self.services: dict[str, Any] = {}
        for name in options.services():
            service: Any = registry.service(SERVICE_OF[name]).build(build_settings(name, options))
            service.load()
            service.warm_up()
            self.services[name] = service

    def _process(self, name: str, units: list[msgspec.Struct]) -> tuple[list[Any], list[dict[str, float]], float]:
        """The service's answers, the model's raw outputs for the units that reached the model (in
        order), and the seconds it all took. The raw outputs are recorded around `infer` because the
        events carry only the four classes, and the 7-class scores are part of the report."""
        service = self.services[name]
        raw: list[Any] = []
        infer = service.infer

        def recording(inputs: list[Any]) -> list[Any]:
            outputs = infer(inputs)
            raw.extend(outputs)
            return list(outputs)

        service.infer = recording
        try:
            started = time.perf_counter()
            answers = service.process(units)
            seconds = time.perf_counter() - started
        finally:
            del service.infer  # the class's method again
        return answers, raw, seconds

    def _emotions(self, name: str, units: list[msgspec.Struct]) -> list[Said]:
        if not units:
            return []
        answers, raw, seconds = self._process(name, units)
        share = seconds / len(units)
        said: list[Said] = []
        outputs = iter(raw)
        for answer in answers:
            if not isinstance(answer, msgspec.Struct):  # BadInput: what the sender gets as an error event
                said.append(Said(reading=None, seconds=share, refused=getattr(answer, "code", "refused")))
                continue
            reading = getattr(answer, "reading", None)
            # Only units the model saw have a reading (a `Ready` answer has none: no face, no speech,
            # another language), so the raw outputs line up with the answers that have one.
            scores = next(outputs, None) if reading is not None else None
            said.append(
                Said(
                    reading=reading,
                    seconds=share,
                    quality=_quality(answer),
                    scores7=_scores7(scores) if isinstance(scores, dict) else None,
                    speech=bool(getattr(answer, "speech", True)),
                )
            )
        return said

    def faces(self, frames: Sequence[bytes]) -> list[Said]:
        return self._emotions("face", [_frame(jpeg, seq, self.SESSION) for seq, jpeg in enumerate(frames)])

    def voices(self, clips: Sequence[np.ndarray]) -> list[Said]:
        return self._emotions("voice", [_utterance(pcm, self.SESSION) for pcm in clips])

    def texts(self, texts: Sequence[str]) -> list[Said]:
        said = self._emotions("text", [_transcript(text, self.SESSION) for text in texts])
        for one, text in zip(said, texts, strict=True):
            one.quality = float(len(text.strip()))
        return said

    def words(self, clips: Sequence[np.ndarray]) -> list[str | None]:
        if not clips:
            return []
        answers, _raw, _seconds = self._process("asr", [_utterance(pcm, self.SESSION) for pcm in clips])
        return [getattr(answer, "text", None) for answer in answers]


class Mesh(Engine):
    """The same units over NATS: to services this engine starts on a private nats-server, or to a mesh
    already running at `nats_url`."""

    def __init__(self, options: Options, nats_url: str | None = None, timeout_s: float = 60.0) -> None:
        self.options = options
        self.timeout_s = timeout_s
        self.session = f"eval-{new_id()[:12]}"
        self._runner = asyncio.Runner()
        self._stack = contextlib.AsyncExitStack()
        self._server: Any = None
        self._pending: dict[str, tuple[asyncio.Future[Any], float]] = {}
        try:
            self._runner.run(self._start(nats_url))
        except BaseException:
            self.close()
            raise

    async def _start(self, nats_url: str | None) -> None:
        import nats

        from mrrrme.stack.infra import NatsServer

        if nats_url is None:
            self._server = NatsServer()
            self._server.start()
            nats_url = str(self._server.url)
            for name in self.options.services():
                # A private stack analyses every frame however long the queue: a dataset's frames are
                # not perishable the way a live camera's are (the live limit drops them as stale).
                extra = {"max_frame_age_ms": 1e9} if name == "face" else {}
                service = registry.service(SERVICE_OF[name]).build(
                    build_settings(name, self.options, nats_url=nats_url, **extra)
                )
                await self._stack.enter_async_context(service)
        self.nc = await nats.connect(nats_url)
        self._stack.push_async_callback(self.nc.close)
        from mrrrme.contracts import ErrorEvent, FaceEmotion, TextEmotion, VoiceEmotion, decode
        from mrrrme.runtime import sync_with_server

        async def answer(key_of: Any, schema: type[msgspec.Struct], msg: Any) -> None:
            event = decode(msg.data, schema)
            waiting = self._pending.pop(key_of(event), None)
            if waiting is not None and not waiting[0].done():
                waiting[0].set_result((event, time.perf_counter() - waiting[1]))

        def route(key_of: Any, schema: type[msgspec.Struct]) -> Any:
            return functools.partial(answer, key_of, schema)  # nats-py takes coroutines (or partials of them)

        await self.nc.subscribe(subjects.face_emotion(self.session), cb=route(lambda e: f"f{e.frame_seq}", FaceEmotion))
        await self.nc.subscribe(
            subjects.voice_emotion(self.session), cb=route(lambda e: f"v{e.utterance_id}", VoiceEmotion)
        )
        await self.nc.subscribe(
            subjects.text_emotion(self.session), cb=route(lambda e: f"t{e.utterance_id}", TextEmotion)
        )
        await self.nc.subscribe(subjects.transcript(self.session), cb=route(lambda e: f"a{e.utterance_id}", Transcript))
        await self.nc.subscribe(subjects.error(self.session), cb=route(lambda e: f"ref{e.ref}", ErrorEvent))
        await sync_with_server(self.nc)
        self._seq = 0

    async def _send(self, subject: str, message: msgspec.Struct, key: str) -> Any:
        """Publish one unit with its own message id and wait for its event (or its error event)."""
        from mrrrme.contracts import encode

        loop = asyncio.get_running_loop()
        msg_id = new_id()
        answered: asyncio.Future[Any] = loop.create_future()
        started = time.perf_counter()
        self._pending[key] = (answered, started)
        self._pending[f"ref{msg_id}"] = (answered, started)
        headers = {"Nats-Msg-Id": msg_id, "Mrrrme-Session": self.session}
        await self.nc.publish(subject, encode(message), headers=headers)
        try:
            return await asyncio.wait_for(answered, self.timeout_s)
        except TimeoutError:
            return None, self.timeout_s
        finally:
            self._pending.pop(key, None)
            self._pending.pop(f"ref{msg_id}", None)

    def _gather(self, sends: list[Any]) -> list[Any]:
        async def everything() -> list[Any]:
            return list(await asyncio.gather(*sends))

        return self._runner.run(everything())

    @staticmethod
    def _said(event: Any, seconds: float) -> Said:
        if event is None:
            return Said(reading=None, seconds=seconds, refused="timeout")
        if hasattr(event, "code"):
            return Said(reading=None, seconds=seconds, refused=str(event.code))
        return Said(
            reading=event.reading,
            seconds=seconds,
            quality=_quality(event),
            speech=bool(getattr(event, "speech", True)),
        )

    def faces(self, frames: Sequence[bytes]) -> list[Said]:
        sends = []
        for jpeg in frames:
            self._seq += 1
            frame = _frame(jpeg, self._seq, self.session)
            sends.append(self._send(subjects.frame(self.session), frame, f"f{self._seq}"))
        return [self._said(event, seconds) for event, seconds in self._gather(sends)]

    def voices(self, clips: Sequence[np.ndarray]) -> list[Said]:
        sends = []
        for pcm in clips:
            utterance = _utterance(pcm, self.session)
            sends.append(self._send(subjects.utterance(self.session), utterance, f"v{utterance.utterance_id}"))
        return [self._said(event, seconds) for event, seconds in self._gather(sends)]

    def texts(self, texts: Sequence[str]) -> list[Said]:
        sends = []
        for text in texts:
            transcript = _transcript(text, self.session)
            sends.append(self._send(subjects.transcript(self.session), transcript, f"t{transcript.utterance_id}"))
        said = [self._said(event, seconds) for event, seconds in self._gather(sends)]
        for one, text in zip(said, texts, strict=True):
            one.quality = float(len(text.strip()))
        return said

    def words(self, clips: Sequence[np.ndarray]) -> list[str | None]:
        sends = []
        for pcm in clips:
            utterance = _utterance(pcm, self.session)
            # The utterance subject reaches voice too; its answer is simply not awaited.
            sends.append(self._send(subjects.utterance(self.session), utterance, f"a{utterance.utterance_id}"))
        return [getattr(event, "text", None) for event, _ in self._gather(sends)]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._runner.run(self._stack.aclose())
        self._runner.close()
        if self._server is not None:
            self._server.close()
            self._server = None


@dataclass
class Result:
    """One item's predictions and, when speech was recognised, its transcript."""

    item: Item
    predictions: list[Prediction]
    transcript: str | None = None


def _prediction(item: Item, modality: Modality, said: Said) -> Prediction:
    return Prediction(
        item_id=item.id,
        modality=modality,
        truth4=item.label4,
        truth=item.label,
        probabilities=tuple(float(p) for p in said.reading.probabilities) if said.reading is not None else None,
        scores7=said.scores7,
        quality=said.quality,
        seconds=said.seconds,
    )


def fused(item: Item, face: Said | None, voice: Said | None, text: Said | None, weights: Any = None) -> Prediction:
    """The fusion service's rules on the three readings (any of them missing)."""
    inputs_class = registry.load_object("services.fusion.rules:Inputs")
    fuse = registry.load_object("services.fusion.rules:fuse")
    inputs = inputs_class(
        face=face.reading if face else None,
        face_quality=(face.quality or 0.0) if face else 0.0,
        voice=voice.reading if voice else None,
        speech=voice.speech if voice else True,
        text=text.reading if text else None,
        text_chars=int(text.quality or 0) if text else 0,
    )
    fusion = fuse(inputs, weights)
    seconds = sum(s.seconds for s in (face, voice, text) if s is not None)
    return Prediction(
        item_id=item.id,
        modality="fused",
        truth4=item.label4,
        truth=item.label,
        probabilities=tuple(float(p) for p in fusion.probabilities) if fusion is not None else None,
        seconds=seconds,
    )


def run_batch(items: Sequence[Item], engine: Engine, options: Options) -> list[Result]:
    """Every modality of a batch of items: one call per service for the whole batch."""
    inputs = [inputs_of(item, options) for item in items]
    modalities = set(options.modalities)
    wants_face = bool({"face", "fused"} & modalities)
    wants_voice = bool({"voice", "fused"} & modalities)
    wants_text = bool({"text", "fused"} & modalities)

    faces: list[Said | None] = [None] * len(items)
    if wants_face:
        flat = [(index, jpeg) for index, one in enumerate(inputs) for jpeg in one.frames]
        answers = engine.faces([jpeg for _, jpeg in flat])
        for index in {index for index, _ in flat}:
            faces[index] = _join_faces([said for (i, _), said in zip(flat, answers, strict=True) if i == index])

    voices: list[Said | None] = [None] * len(items)
    sound = [(index, one.pcm) for index, one in enumerate(inputs) if one.pcm is not None]
    if wants_voice:
        for (index, _), said in zip(sound, engine.voices([pcm for _, pcm in sound]), strict=True):
            voices[index] = said

    transcripts: list[str | None] = [None] * len(items)
    if wants_text and options.asr != "off":
        to_recognise = [(i, pcm) for i, pcm in sound if options.asr == "always" or not inputs[i].text]
        for (index, _), words in zip(to_recognise, engine.words([pcm for _, pcm in to_recognise]), strict=True):
            transcripts[index] = words
            inputs[index].text = words

    texts: list[Said | None] = [None] * len(items)
    if wants_text:
        with_words = [index for index, one in enumerate(inputs) if one.text and one.text.strip()]
        for index, said in zip(with_words, engine.texts([inputs[i].text or "" for i in with_words]), strict=True):
            texts[index] = said

    results = []
    for index, item in enumerate(items):
        predictions = []
        read: tuple[tuple[Modality, Said | None], ...] = (
            ("face", faces[index]),
            ("voice", voices[index]),
            ("text", texts[index]),
        )
        for modality, answer in read:
            if modality in modalities and answer is not None:
                predictions.append(_prediction(item, modality, answer))
        present = [s for s in (faces[index], voices[index], texts[index]) if s is not None]
        # Fusion is measured where there is something to fuse: an item with one modality's input
        # would only repeat that modality's prediction.
        if "fused" in modalities and len(present) >= 2:
            predictions.append(fused(item, faces[index], voices[index], texts[index], options.fusion_weights))
        results.append(Result(item=item, predictions=predictions, transcript=transcripts[index]))
    return results


def run(items: Sequence[Item] | Iterator[Item], engine: Engine, options: Options) -> Iterator[Result]:
    """Every item through the engine, `options.batch` at a time."""
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= max(1, options.batch):
            yield from run_batch(batch, engine, options)
            batch = []
    if batch:
        yield from run_batch(batch, engine, options)
