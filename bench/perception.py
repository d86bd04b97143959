"""Perception backends: latency per item and throughput at batch 1, 8 and 16.

    .venv/bin/python -m bench.perception [--only face,voice,text,asr] [--full-size]

Lite backends run as shipped. `--full-size` also measures the full architectures (ViT-base/16,
HuBERT-large, DistilRoBERTa-base) with random weights built locally: their compute equals the real
models' (the real weights cannot be fetched here). Each batch size runs `--rounds` times; the best
round counts, so a busy machine inflates less.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def measure(name: str, run: Callable[[int], object], sizes: tuple[int, ...], rounds: int) -> None:
    """`run(n)` handles a batch of n items (what it returns is not looked at)."""
    run(1)  # warm-up
    for size in sizes:
        best = min(_timed(run, size) for _ in range(rounds))
        print(f"| {name} | {size} | {best / size * 1000:.1f} | {size / best:.1f} |", flush=True)


def _timed(run: Callable[[int], object], size: int) -> float:
    started = time.perf_counter()
    run(size)
    return time.perf_counter() - started


def face(full_size: bool, sizes: tuple[int, ...], rounds: int, tmp: Path) -> None:
    from mrrrme.contracts import Frame
    from services.face.backends.lite import FerLiteBackend
    from services.face.detect import FaceDetector, decode_jpeg
    from services.face.service import FaceService
    from services.face.settings import FaceSettings
    from tests.images import astronaut

    jpeg = astronaut()
    analyser = FaceService(FaceSettings(backend="lite"))
    analyser.load()
    frames = [Frame(session_id="b", seq=i, jpeg=jpeg, width=512, height=512) for i in range(max(sizes))]
    measure(
        "face lite: decode + Haar + FER (512x512 frame)",
        lambda n: analyser.process(frames[:n]),
        sizes,
        rounds,
    )
    image = decode_jpeg(jpeg, 48)
    detected = FaceDetector().detect(image).largest
    assert detected is not None
    crops = [(image, detected)] * max(sizes)
    lite = FerLiteBackend(FaceSettings())
    measure("face lite: FER model only", lambda n: lite.classify(crops[:n]), sizes, rounds)
    if full_size:
        from services.face.backends.full import VitBackend
        from tests.fixtures.tiny_hf import build_fullsize_face

        vit = VitBackend(FaceSettings(model=str(build_fullsize_face(tmp / "vit")), device="cpu"))
        measure(
            "face full: ViT-base/16 model only (random weights)",
            lambda n: vit.classify(crops[:n]),
            sizes,
            rounds,
        )


def voice(full_size: bool, sizes: tuple[int, ...], rounds: int, tmp: Path) -> None:
    from services.voice.backends.lite import ProsodyBackend
    from services.voice.settings import VoiceSettings
    from tests.speech import synthesize

    clip = synthesize("I went to the market this morning and bought some apples.").astype(np.float32) / 32768
    clips = [clip] * max(sizes)
    lite = ProsodyBackend(VoiceSettings())
    seconds = len(clip) / 16000
    measure(
        f"voice lite: prosody rule ({seconds:.1f} s utterance)",
        lambda n: lite.classify(clips[:n]),
        sizes,
        rounds,
    )
    if full_size:
        from services.voice.backends.full import HubertBackend
        from tests.fixtures.tiny_hf import build_fullsize_voice

        hubert = HubertBackend(VoiceSettings(model=str(build_fullsize_voice(tmp / "hubert")), device="cpu"))
        measure(
            f"voice full: HuBERT-large ({seconds:.1f} s, random weights)",
            lambda n: hubert.classify(clips[:n]),
            sizes,
            rounds,
        )


def text(full_size: bool, sizes: tuple[int, ...], rounds: int, tmp: Path) -> None:
    from services.text.backends.lite import LiteTextBackend
    from services.text.settings import TextSettings

    sentence = "I had a long day at work and I am really tired of my boss shouting at everyone."
    texts = [sentence] * max(sizes)
    lite = LiteTextBackend(TextSettings())
    measure("text lite: MiniLM + VADER + head", lambda n: lite.classify(texts[:n]), sizes, rounds)
    if full_size:
        from services.text.backends.full import RobertaBackend
        from tests.fixtures.tiny_hf import build_fullsize_text

        roberta = RobertaBackend(TextSettings(model=str(build_fullsize_text(tmp / "roberta")), device="cpu"))
        measure(
            "text full: DistilRoBERTa-base (random weights)",
            lambda n: roberta.classify(texts[:n]),
            sizes,
            rounds,
        )


def asr(full_size: bool, sizes: tuple[int, ...], rounds: int, tmp: Path) -> None:
    from services.asr.backends.lite import SphinxBackend
    from services.asr.settings import AsrSettings
    from tests.speech import synthesize

    clip = synthesize("I went to the market this morning and bought some apples.").astype(np.float32) / 32768
    sphinx = SphinxBackend(AsrSettings())
    seconds = len(clip) / 16000

    def run(n: int) -> None:
        for _ in range(n):  # a recogniser decodes one stream at a time: a batch is a loop
            sphinx.transcribe(clip, "en")

    measure(f"asr lite: pocketsphinx ({seconds:.1f} s utterance)", run, sizes, rounds)
    if full_size:
        from services.asr.backends.full import WhisperBackend
        from services.asr.settings import AsrSettings
        from tests.fixtures.tiny_whisper import DISTIL_LARGE_V3_DIMS, TIKTOKEN
        from tests.fixtures.tiny_whisper import build as build_whisper

        # distil-large-v3's sizes with random weights, int8 as on a CPU; the decoder is rigged to say two
        # words (random weights would babble to the 448-token limit), so this is encoder + a short decode.
        model = build_whisper(tmp / "whisper", TIKTOKEN, quantization="int8", parrot_text=" hello world",
                              dims=DISTIL_LARGE_V3_DIMS)  # fmt: skip
        whisper = WhisperBackend(AsrSettings(backend="full", model=str(model), device="cpu", beam_size=5))

        def run_whisper(n: int) -> None:
            for _ in range(n):
                whisper.transcribe(clip, "en")

        measure(f"asr full: distil-large-v3 size, int8 CPU ({seconds:.1f} s, random weights)", run_whisper,
                sizes[:2], 1)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="face,voice,text,asr")
    parser.add_argument("--full-size", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}"
    )
    print("| backend | batch | ms per item | items per second |")
    print("|---|---|---|---|")
    sizes = (1, 8, 16)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            {"face": face, "voice": voice, "text": text, "asr": asr}[name](
                args.full_size, sizes, args.rounds, Path(tmp)
            )


if __name__ == "__main__":
    main()
