"""TTS: the viseme mapping, the lite backend's audio and track, markup stripping, and the service."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from nats.aio.client import Client as NATS

from mrrrme import subjects
from mrrrme.backends import StartupError
from mrrrme.contracts import Control, ReplyAudio, ReplySentence, encode, new_id
from mrrrme.stack.infra import NatsServer
from services.tts import espeak, visemes
from services.tts.backends.full import XttsBackend, scaled_track
from services.tts.backends.lite import PiperBackend
from services.tts.service import TtsService, speakable
from services.tts.settings import TtsSettings
from tests.conftest import ROOT
from tests.fixtures.tiny_xtts import build_tiny_xtts
from tests.mesh import inbox

OCULUS = {"sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U"}


@pytest.mark.parametrize(
    "phoneme, viseme",
    [("p", "PP"), ("m", "PP"), ("f", "FF"), ("θ", "TH"), ("t", "DD"), ("k", "kk"), ("ʃ", "CH"), ("s", "SS"),
     ("n", "nn"), ("ɹ", "RR"), ("ɑ", "aa"), ("ɛ", "E"), ("i", "I"), ("ɔ", "O"), ("u", "U"), (" ", "sil"), (",", "sil")],
)  # fmt: skip
def test_phonemes_map_to_the_oculus_set(phoneme: str, viseme: str) -> None:
    assert visemes.viseme_of(phoneme) == viseme


def test_track_merges_repeats_lengthens_through_stress_marks_and_ends_silent() -> None:
    track = visemes.track([("h", 100), ("ˈ", 50), ("ɛ", 200), ("ɛ", 100), ("l", 100), ("o", 300)], 1000)
    assert [(v.t, v.viseme) for v in track] == [(0.0, "kk"), (0.15, "E"), (0.45, "nn"), (0.55, "O"), (0.85, "sil")]


@pytest.fixture(scope="module")
def piper() -> PiperBackend:
    return PiperBackend(TtsSettings())


def test_piper_speech_has_a_viseme_track_inside_its_audio(piper: PiperBackend) -> None:
    speech = piper.synthesize("Hello there, how are you feeling today?", "female", "en")
    duration = len(speech.pcm) / 2 / speech.sample_rate
    assert 1.0 < duration < 5.0
    times = [v.t for v in speech.visemes]
    assert times == sorted(times) and times[0] >= 0 and times[-1] <= duration + 1e-3
    assert {v.viseme for v in speech.visemes} <= OCULUS and len(speech.visemes) > 10
    assert np.abs(np.frombuffer(speech.pcm, "<i2")).max() > 1000  # real sound, not silence


def test_lite_speaks_other_languages_with_espeaks_voice_for_them(piper: PiperBackend) -> None:
    female = piper.synthesize("Guten Morgen, wie geht es dir heute?", "female", "de")
    male = piper.synthesize("Guten Morgen, wie geht es dir heute?", "male", "de")
    for speech in (female, male):
        samples = np.frombuffer(speech.pcm, "<i2")
        duration = len(samples) / speech.sample_rate
        assert 1.0 < duration < 5.0 and np.abs(samples).max() > 1000
        assert {v.viseme for v in speech.visemes} <= OCULUS and len(speech.visemes) > 10
        assert speech.visemes[-1].t <= duration + 1e-3
    assert female.pcm != male.pcm  # two voices
    english = piper.synthesize("Guten Morgen, wie geht es dir heute?", "female", "en")
    assert [v.viseme for v in english.visemes] != [v.viseme for v in female.visemes]  # German phonetics


def test_markup_and_control_characters_are_never_spoken() -> None:
    text = 'Hi <speak><prosody rate="x-fast">there</prosody></speak> ![img](http://x/y.png) **bold**\x07'
    assert speakable(text, 600) == "Hi there bold"


def test_espeak_times_its_own_speech_phoneme_by_phoneme(piper: PiperBackend) -> None:
    piper.synthesize("Piper's phonemizer initialises the same espeak-ng first.", "female", "en")
    timings, total = espeak.phoneme_timings("Hello there, how are you feeling today?", "en")
    assert sum(samples for _, samples in timings) == total and 1.0 < total / espeak.SAMPLE_RATE < 4.0
    phonemes = [p for p, _ in timings]
    assert phonemes[:3] == ["", "h", "ə"] and "ˈoʊ" in phonemes  # IPA, as the viseme table expects
    comma = max(samples for p, samples in timings[3:-2] if p == "")
    assert comma / espeak.SAMPLE_RATE > 0.1  # the pause at the comma is timed, not spread evenly
    assert len({samples for p, samples in timings if p}) > 5  # real durations differ phoneme by phoneme
    german, _ = espeak.phoneme_timings("Guten Morgen, wie geht es dir?", "de")
    english, _ = espeak.phoneme_timings("Guten Morgen, wie geht es dir?", "en")
    assert "ɡˈeːt" in "".join(p for p, _ in german) and german != english  # German phonetics


CONCURRENT_SPEECH = """
import threading, time
from services.tts import espeak
from services.tts.backends.lite import PiperBackend
from services.tts.settings import TtsSettings
piper, stop = PiperBackend(TtsSettings()), time.monotonic() + 4
def english():
    while time.monotonic() < stop:
        piper.synthesize("Hello there, how are you feeling today? I am fine.", "female", "en")
thread = threading.Thread(target=english)
thread.start()
while time.monotonic() < stop:
    espeak.speak("Guten Morgen, wie geht es dir heute?", "de")
thread.join()
print("both spoke")
"""


def test_piper_and_espeak_speaking_on_two_threads_at_once_share_the_engine_safely() -> None:
    """espeak-ng is one engine per process, used by piper's phonemizer too; two threads at once crashed
    the process (a segfault in a full test run). Run in a child so a regression fails this test only."""
    done = subprocess.run(
        [sys.executable, "-c", CONCURRENT_SPEECH], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "both spoke" in done.stdout, (done.returncode, done.stderr[-2000:])


def test_xtts_viseme_track_is_espeaks_timing_stretched_to_the_audio() -> None:
    timings, total = espeak.phoneme_timings("Hello world.", "en")
    track = scaled_track(timings, total, 48000, 24000)  # XTTS made 2.0 s of audio
    assert track[-1].viseme == "sil" and 1.9 < track[-1].t <= 2.0  # the mouth closes as the voice ends
    times = [v.t for v in track]
    assert times == sorted(times) and {v.viseme for v in track} <= OCULUS
    own = visemes.track(timings, espeak.SAMPLE_RATE)  # the same shapes at espeak's own pace
    assert [v.viseme for v in own] == [v.viseme for v in track]
    ratio = 2.0 / (total / espeak.SAMPLE_RATE)
    assert all(abs(a.t * ratio - b.t) < 0.002 for a, b in zip(own, track, strict=True))


def test_xtts_without_its_weights_is_one_clear_error() -> None:
    with pytest.raises(StartupError, match=r"XTTS v2 weights"):
        XttsBackend(TtsSettings(backend="full"))


@pytest.fixture(scope="module")
def tiny_xtts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_xtts(tmp_path_factory.mktemp("xtts"))


def test_xtts_loads_a_checkpoint_directory_and_speaks_with_both_voices(tiny_xtts: Path) -> None:
    backend = XttsBackend(TtsSettings(backend="full", model=str(tiny_xtts), device="cpu"))
    for voice, language in [("female", "en"), ("male", "de"), ("female", "fr")]:  # fr: not in this tiny model
        speech = backend.synthesize("Hello there, how are you?", voice, language)
        duration = len(speech.pcm) / 2 / speech.sample_rate
        assert speech.sample_rate == 24000 and duration > 0.1
        assert np.abs(np.frombuffer(speech.pcm, "<i2")).max() > 0  # random weights: noise, but sound
        assert speech.visemes[0].t >= 0 and speech.visemes[-1].t <= duration + 1e-3
        assert len({v.viseme for v in speech.visemes}) > 3


def test_xtts_without_the_configured_speaker_says_which_it_has(tiny_xtts: Path) -> None:
    settings = TtsSettings(backend="full", model=str(tiny_xtts), device="cpu", female_speaker="Nobody Here")
    with pytest.raises(StartupError, match=r"no speaker \['Nobody Here'\].*Ana Florence"):
        XttsBackend(settings)


async def test_service_with_xtts_answers_each_sentence_with_audio_and_visemes(
    tiny_xtts: Path, nats_server: NatsServer, nc: NATS
) -> None:
    audio = await inbox(nc, subjects.reply_audio("xtts1"), ReplyAudio)
    settings = TtsSettings(nats_url=nats_server.url, backend="full", model=str(tiny_xtts), device="cpu")
    async with TtsService(settings) as service:
        assert service.backend_name == "full"
        for index, text in enumerate(["I hear you.", "Tell me more."]):
            sentence = ReplySentence(session_id="xtts1", turn_id="t", index=index, text=text, emotion="Happy")
            await nc.publish(subjects.reply_text("xtts1"), encode(sentence))
        await audio.wait_for(2)
    for item in audio.items:
        assert item.synthetic is True and item.sample_rate == 24000 and item.emotion == "Happy"
        assert 0 < item.visemes[-1].t <= len(item.pcm) / 2 / item.sample_rate + 1e-3


async def test_service_speaks_each_sentence_marked_synthetic_and_drops_interrupted_turns(
    nats_server: NatsServer, nc: NATS
) -> None:
    audio = await inbox(nc, subjects.reply_audio("tts1"), ReplyAudio)
    turn, cut = new_id(), new_id()
    async with TtsService(TtsSettings(nats_url=nats_server.url, backend="lite")):
        await nc.publish(subjects.control("tts1"), encode(Control(session_id="tts1", action="interrupt", turn_id=cut)))
        await nc.flush()
        for index, (turn_id, text) in enumerate([(turn, "I hear you."), (cut, "Never said."), (turn, "Tell me more.")]):
            sentence = ReplySentence(session_id="tts1", turn_id=turn_id, index=index, text=text, emotion="Sad")
            await nc.publish(subjects.reply_text("tts1"), encode(sentence))
        await audio.wait_for(2)
        await nc.flush()
    assert [a.text for a in audio.items] == ["I hear you.", "Tell me more."]
    for item in audio.items:
        assert item.synthetic is True and item.sample_rate == 22050 and item.emotion == "Sad"
        assert item.visemes[-1].t <= len(item.pcm) / 2 / item.sample_rate + 1e-3
