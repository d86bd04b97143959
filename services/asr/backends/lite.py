"""Lite ASR: pocketsphinx 5 with its bundled US English model (offline, CPU, English only).

Silence and noise: pocketsphinx happily "hears" a word in pure silence (it said "ice"), so audio
without voiced, pitch-moving sound (`mrrrme.audio.has_speech`) is never decoded, and a "word" longer
than 1.2 s is dropped. Filler tokens (<s>, </s>, <sil>, [NOISE], ++...++) are dropped and alternative
pronunciations ("relax(2)") named plainly. Measured on piper speech: about 4-7 % word error rate.
Other languages: the bundled model is English only; the transcript says language "en".
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from mrrrme.audio import has_speech
from mrrrme.backends import StartupError
from mrrrme.contracts import Word
from services.asr.backends import Recognition
from services.asr.settings import AsrSettings

FRAMES_PER_SECOND = 100
PAD_SECONDS = 0.1
"""Silence added at both ends. On bare speech 0.3 s lowered the word error rate from 4.5 % to 3.2 %, but
the gateway's utterances already carry 0.2 s each side (`vad_pad_ms`), and 0.3 s more is slower there
and no better (bench/asr_lite.py: 8.3 % vs 5.9 % with 0.1 s)."""
DECODER_OPTIONS: dict[str, int] = {"topn": 2, "maxhmmpf": 3000, "maxwpf": 5}
"""Search limits, each measured by bench/asr_lite.py at the same word error rate within noise:
`topn` 2 Gaussians scored per senone (default 4) decodes a fifth faster (median 303 -> 238 ms per
sentence); at most 3000 active HMMs (default 30000) and 5 word exits (default -1: all) per frame another
fifth (-> ~190 ms). They bound the search's cost, which matters most when 20 sessions share the CPU."""
MAX_WORD_SECONDS = 1.2
"""Longer 'words' are noise the decoder forced into a word (real ones measured at most 1.04 s)."""
_ALTERNATIVE = re.compile(r"\(\d+\)$")


def is_filler(word: str) -> bool:
    return word.startswith(("<", "[", "+")) or not word


class SphinxBackend:
    def __init__(self, settings: AsrSettings) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError:
            raise StartupError("pocketsphinx is not installed: pip install -e '.[asr]'") from None
        self._decoder: Any = Decoder(samprate=16000, loglevel="FATAL", **DECODER_OPTIONS)

    def transcribe(self, audio: np.ndarray, language: str | None) -> Recognition:
        if not has_speech(audio):
            return Recognition(text="", language="en", no_speech_prob=1.0)
        pad = np.zeros(int(PAD_SECONDS * 16000), dtype=np.float32)
        pcm = (np.clip(np.concatenate([pad, audio, pad]), -1.0, 1.0) * 32767).astype("<i2").tobytes()
        decoder = self._decoder
        decoder.reinit_feat()  # reset feature normalisation: otherwise one utterance leaks into the next
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        words = [
            Word(
                word=_ALTERNATIVE.sub("", segment.word),
                start=max(0.0, segment.start_frame / FRAMES_PER_SECOND - PAD_SECONDS),
                end=max(0.0, (segment.end_frame + 1) / FRAMES_PER_SECOND - PAD_SECONDS),
                probability=float(min(1.0, max(0.0, segment.prob))),
            )
            for segment in decoder.seg() or []
            if not is_filler(segment.word)
            and (segment.end_frame + 1 - segment.start_frame) / FRAMES_PER_SECOND <= MAX_WORD_SECONDS
        ]
        text = " ".join(word.word for word in words)
        # pocketsphinx gives no no-speech probability; what it has is its confidence in the words.
        confidence = float(np.mean([w.probability for w in words])) if words else 0.0
        return Recognition(text=text, language="en", no_speech_prob=1.0 - confidence if words else 1.0, words=words)
