"""Full backends of face, voice and text: the real transformers loading code on tiny random models.

Each model has its production architecture (ViT, HuBERT, RoBERTa), processor and label set, with tiny
random weights whose classifier bias favours one label: the test then proves loading, batching,
padding and the label -> four-class mapping end to end, over real NATS. Not accuracy: the real
weights cannot be fetched here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nats.aio.client import Client as NATS

from mrrrme import subjects
from mrrrme.backends import StartupError
from mrrrme.contracts import (
    FaceEmotion,
    Frame,
    TextEmotion,
    Transcript,
    Utterance,
    VoiceEmotion,
    encode,
    new_id,
)
from mrrrme.stack.infra import NatsServer
from services.face.backends.full import VitBackend
from services.face.service import FaceService
from services.face.settings import FaceSettings
from services.text.service import TextService
from services.text.settings import TextSettings
from services.voice.backends.full import HubertBackend
from services.voice.service import VoiceService
from services.voice.settings import VoiceSettings
from tests.fixtures.tiny_hf import build_tiny_face, build_tiny_text, build_tiny_voice
from tests.images import astronaut
from tests.mesh import inbox
from tests.speech import synthesize


async def test_face_vit_backend_over_nats(tmp_path: Path, nats_server: NatsServer, nc: NATS) -> None:
    model = build_tiny_face(tmp_path / "vit", favor="sad")
    events = await inbox(nc, subjects.face_emotion("vit1"), FaceEmotion)
    settings = FaceSettings(
        nats_url=nats_server.url, backend="full", model=str(model), device="cpu", max_frame_age_ms=10_000
    )
    async with FaceService(settings) as service:
        assert service.backend_name == "full"
        for seq in range(3):
            frame = Frame(session_id="vit1", seq=seq, jpeg=astronaut(), width=512, height=512)
            await nc.publish(subjects.frame("vit1"), encode(frame))
        await events.wait_for(3)
    for event in events.items:
        assert event.faces == 1 and event.reading is not None
        assert event.reading.emotion == "Sad"  # 'sad' favoured: the label mapping works end to end
        assert len(event.reading.probabilities) == 4 and sum(event.reading.probabilities) == pytest.approx(1)


def test_vit_batch_matches_single_items(tmp_path: Path) -> None:
    from services.face.detect import FaceDetector, decode_jpeg

    backend = VitBackend(FaceSettings(model=str(build_tiny_face(tmp_path / "vit")), device="cpu"))
    image = decode_jpeg(astronaut(), 48)
    face = FaceDetector().detect(image).largest
    assert face is not None
    single = backend.classify([(image, face)])
    batch = backend.classify([(image, face)] * 4)
    assert all(b == pytest.approx(single[0], abs=1e-5) for b in batch)
    assert set(single[0]) == {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}


async def test_voice_hubert_backend_over_nats(tmp_path: Path, nats_server: NatsServer, nc: NATS) -> None:
    model = build_tiny_voice(tmp_path / "hubert", favor="ang")
    events = await inbox(nc, subjects.voice_emotion("hub1"), VoiceEmotion)
    settings = VoiceSettings(nats_url=nats_server.url, backend="full", model=str(model), device="cpu")
    async with VoiceService(settings):
        for text in ("Hello there.", "This is a much longer sentence, to test padding in a batch."):
            pcm = synthesize(text).tobytes()
            unit = Utterance(session_id="hub1", utterance_id=new_id(), pcm=pcm, started_at=0, ended_at=1)
            await nc.publish(subjects.utterance("hub1"), encode(unit))
        await events.wait_for(2)
    assert all(e.speech and e.reading is not None and e.reading.emotion == "Angry" for e in events.items)


def test_hubert_padding_does_not_change_results(tmp_path: Path) -> None:
    backend = HubertBackend(VoiceSettings(model=str(build_tiny_voice(tmp_path / "hubert")), device="cpu"))
    short, long = (synthesize(t).astype(np.float32) / 32768 for t in ("Hi.", "A longer sentence than that."))
    alone = backend.classify([short])[0]
    padded = backend.classify([short, long])[0]
    assert padded == pytest.approx(alone, abs=1e-4)


async def test_text_roberta_backend_over_nats(tmp_path: Path, nats_server: NatsServer, nc: NATS) -> None:
    model = build_tiny_text(tmp_path / "roberta", favor="joy")
    events = await inbox(nc, subjects.text_emotion("rob1"), TextEmotion)
    settings = TextSettings(nats_url=nats_server.url, backend="full", model=str(model), device="cpu", rules=False)
    async with TextService(settings):
        for text in ("What a lovely day.", "word " * 900):  # the second one is truncated to 512 tokens
            await nc.publish(
                subjects.transcript("rob1"),
                encode(Transcript(session_id="rob1", utterance_id=new_id(), text=text)),
            )
        await events.wait_for(2)
    assert all(e.reading is not None and e.reading.emotion == "Happy" for e in events.items)


@pytest.mark.parametrize(
    "backend, settings",
    [
        (VitBackend, FaceSettings(model="trpakov/vit-face-expression", device="cpu")),
        (HubertBackend, VoiceSettings(model="superb/hubert-large-superb-er", device="cpu")),
    ],
)
def test_missing_weights_is_one_clear_error(backend: type, settings: object) -> None:
    with pytest.raises(StartupError, match="make models"):
        backend(settings)
