"""CPU budget: what each part of the lite stack costs per unit of work, and how many cores N sessions need.

    .venv/bin/python -m bench.budget [--sessions 20] [--fps 5] [--turn-every 10]

bench.sessions measures the whole stack under load, where every part waits for the others' CPU; this
bench measures each part alone, in this process, as CPU seconds (time.process_time, so a part's own
threads count too), on the same work bench.sessions sends: its four spoken sentences (piper), its
320x240 astronaut frame, and the replies the lite composer gives those sentences in the "brief" style.
The parts are built from their services' own settings, so the MRRRME_* variables that configure the
stack configure this bench too (e.g. MRRRME_ASR_BACKEND=sphinx, MRRRME_GATEWAY_END_OF_TURN=silence,
MRRRME_FACE_LANDMARKS=false).

Per turn the gateway's segmenter runs with the real Silero VAD and Smart Turn on each sentence (0.5 s of
silence, the sentence, 2 s of silence), which says how often Smart Turn is asked and how many recognitions
a turn costs (an early recognition that the utterance keeps is not decoded again). Then:

    cores(N sessions) = N x (VAD per audio second + turns per second x CPU per turn + fps x CPU per frame)

The sum leaves out what is not a model: sockets, JSON and NATS messages, fusion, dialogue, memory (in
bench.sessions at 20 sessions: ~0.1-0.2 cores of the gateway, ~0.1 more for the rest), and the load
generator. So the total is a floor: a machine with fewer cores than it says cannot carry the load.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from gateway.turn import TurnModel

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PAUSE_BEFORE_S, PAUSE_AFTER_S = 0.5, 2.0
T = TypeVar("T")


@dataclass
class Part:
    name: str
    unit: str
    cpu_ms: float
    """CPU ms per unit (median)."""
    per_session_s: float
    """Units per second of one session."""

    def cores(self, sessions: int) -> float:
        return sessions * self.per_session_s * self.cpu_ms / 1000


def cpu_ms(run: Callable[[], object], repeats: int = 5) -> float:
    """Median CPU ms of `run` (after one warm-up call)."""
    run()
    times = []
    for _ in range(repeats):
        started = time.process_time()
        run()
        times.append(1000 * (time.process_time() - started))
    return statistics.median(times)


class CountedTurn(TurnModel):
    """The real Smart Turn, counting how often the segmenter asks it."""

    calls = 0

    def probability(self, audio: np.ndarray) -> float:
        self.calls += 1
        return super().probability(audio)


def median_cpu_ms(run: Callable[[T], object], inputs: list[T], repeats: int = 3) -> float:
    """The median over `inputs` of each one's CPU ms."""
    return statistics.median(cpu_ms(functools.partial(run, item), repeats) for item in inputs)


def turn_parts(turn_every_s: float) -> list[Part]:
    """The gateway's VAD and turn model, asr, voice, text and tts on bench.sessions' four sentences."""
    from bench.sessions import SPEECH, chunks
    from gateway.settings import GatewaySettings
    from gateway.vad import CHUNK, Segmenter, SegmenterConfig, SileroVad
    from mrrrme.contracts import FusedEmotion, Preferences, Turn
    from services.asr.backends import BACKENDS as ASR
    from services.asr.settings import AsrSettings
    from services.dialogue import composer
    from services.dialogue.pacing import first_pieces
    from services.text.backends import BACKENDS as TEXT
    from services.text.settings import TextSettings
    from services.tts.backends import BACKENDS as TTS
    from services.tts.settings import TtsSettings
    from services.voice.backends import BACKENDS as VOICE
    from services.voice.settings import VoiceSettings
    from tests.speech import silence, synthesize

    speech = [synthesize(text) for text in SPEECH]
    vad = SileroVad()
    window = np.zeros(CHUNK, np.float32)
    stream = vad.stream()
    vad_ms = cpu_ms(lambda: [stream.probability(window) for _ in range(100)]) / 100

    config = SegmenterConfig.from_settings(GatewaySettings())
    turn_model = CountedTurn() if config.end_of_turn == "model" else None
    asks, recognitions = [], []
    for samples in speech:
        asked_before = turn_model.calls if turn_model is not None else 0
        segmenter = Segmenter(vad, config, clock=0.0, turn=turn_model, wait_for_turn=True)
        pcm = np.concatenate([silence(PAUSE_BEFORE_S), samples, silence(PAUSE_AFTER_S)]).astype("<i2").tobytes()
        events = [event for chunk in chunks(pcm) for event in segmenter.feed(chunk)]
        early = sum(event.kind == "speculate" for event in events)
        recognitions.append(early + sum(e.kind == "utterance" and e.speculation is None for e in events))
        asks.append(turn_model.calls - asked_before if turn_model is not None else 0)

    turns_per_s = 1 / turn_every_s
    audio = [s.astype(np.float32) / 32768 for s in speech]
    parts = [Part("gateway: Silero VAD", "second of audio", vad_ms * 16000 / CHUNK, 1.0)]
    if turn_model is not None:
        one_ask = median_cpu_ms(turn_model.probability, audio)
        parts.append(Part(f"gateway: Smart Turn ({statistics.mean(asks):.1f} asks a turn)", "turn",
                          one_ask * statistics.mean(asks), turns_per_s))  # fmt: skip

    asr_settings = AsrSettings()
    asr = ASR.create(asr_settings)
    decode = median_cpu_ms(functools.partial(asr.transcribe, language="en"), audio)
    parts.append(Part(f"asr: {ASR.chosen(asr_settings).name} ({statistics.mean(recognitions):.1f} decodes a turn)",
                      "turn", decode * statistics.mean(recognitions), turns_per_s))  # fmt: skip
    voice = VOICE.create(VoiceSettings())
    parts.append(Part("voice", "turn", median_cpu_ms(lambda a: voice.classify([a]), audio, 5),
                      turns_per_s))  # fmt: skip
    text = TEXT.create(TextSettings())
    parts.append(Part("text", "turn", median_cpu_ms(lambda t: text.classify([t]), SPEECH, 5),
                      turns_per_s))  # fmt: skip

    tts_settings = TtsSettings()
    tts = TTS.create(tts_settings)
    replies: list[list[str]] = []
    recent: list[str] = []
    for sentence in SPEECH:
        fused = FusedEmotion(session_id="b", utterance_id=None, emotion="Neutral", intensity=0.5,
                             probabilities=[0.7, 0.1, 0.1, 0.1])  # fmt: skip
        turn = Turn(session_id="b", turn_id="t", text=sentence, fused=fused, preferences=Preferences(style="brief"))
        reply = composer.compose(turn, recent)[0]
        recent.append(" ".join(reply))
        replies.append([*first_pieces(reply[0]), *reply[1:]])

    def speak(reply: list[str]) -> None:
        for piece in reply:
            tts.synthesize(piece, "female", "en")

    per_reply = median_cpu_ms(speak, replies)
    pieces = statistics.mean(len(r) for r in replies)
    parts.append(Part(f"tts: {TTS.chosen(tts_settings).name} ({pieces:.1f} pieces a reply)", "turn", per_reply,
                      turns_per_s))  # fmt: skip
    return parts


def face_part(fps: float) -> Part:
    """One frame through the face service's own prepare, infer and respond."""
    from bench.sessions import camera_frame
    from mrrrme.contracts import Frame
    from mrrrme.runtime import Ready
    from services.face.service import FaceService
    from services.face.settings import FaceSettings

    frame = Frame(session_id="b", seq=1, jpeg=camera_frame(), width=320, height=240)
    settings = FaceSettings()
    service = FaceService(settings)
    service.load()

    def one() -> None:
        prepared = service.prepare(frame)
        if not isinstance(prepared, Ready):
            service.respond(frame, prepared, service.infer([prepared])[0])

    parts = [settings.detector, "landmarks" if settings.landmarks else "no landmarks"]
    return Part(f"face: {', '.join(parts)}", "frame", cpu_ms(one, 20), fps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--fps", type=float, default=5.0, help="camera frames per second per session")
    parser.add_argument("--turn-every", type=float, default=10.0, help="seconds between one session's turns")
    args = parser.parse_args()
    from mrrrme.runtime.process import single_threaded_blas

    single_threaded_blas()  # as every service process runs
    print("measuring each part alone (CPU time, this process)...", flush=True)
    parts = [*turn_parts(args.turn_every), face_part(args.fps)]
    n = args.sessions
    print(f"\n{n} sessions, a turn every {args.turn_every:g} s and {args.fps:g} frames a second each\n")
    print(f"| part | CPU ms | per | cores for {n} sessions |\n|---|---|---|---|")
    for part in parts:
        print(f"| {part.name} | {part.cpu_ms:.1f} | {part.unit} | {part.cores(n):.2f} |")
    total = sum(part.cores(n) for part in parts)
    print(f"| **models alone** | | | **{total:.2f}** |")
    cores = os.cpu_count() or 1
    most = int(cores / (total / n)) if total else n
    print(f"\nthis machine has {cores} cores: the models alone would carry at most {most} such sessions")


if __name__ == "__main__":
    main()
