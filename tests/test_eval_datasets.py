"""The evaluation harness's data side: every dataset layout on a fixture made here, the media decoding,
and runs through the services' own pipelines (in process and over a private mesh)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
import skimage.data

from mrrrme.contracts import EMOTIONS, reading_from_probabilities
from mrrrme.eval import datasets, packaged
from mrrrme.eval.__main__ import main, sample
from mrrrme.eval.datasets import DatasetError, detect, load
from mrrrme.eval.media import decode_clip, to_jpeg, to_pcm16
from mrrrme.eval.runners import Engine, InProcess, Mesh, Options, Said, run
from mrrrme.eval.types import Item
from tests.speech import synthesize, write_wav

SAMPLES: Any = skimage.data  # untyped
TONE = (3000 * np.sin(2 * np.pi * 180 * np.arange(8000) / 16000)).astype(np.int16)


def png(path: Path, grey: int = 128, side: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((side, side), grey, np.uint8))
    return path


def wav(path: Path, samples: np.ndarray = TONE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_wav(path, samples)


def mp4(path: Path, image: np.ndarray, speech: np.ndarray, seconds: float = 2.0) -> Path:
    """A clip as MELD ships them: a video track (the still `image`, RGB) and an AAC audio track."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        for _ in range(int(seconds * 10)):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:height, :width]), format="rgb24")
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        sound = av.AudioFrame.from_ndarray(speech.reshape(1, -1), format="s16", layout="mono")
        sound.sample_rate = 16000
        container.mux(audio.encode(sound))
        container.mux(audio.encode(None))
    return path


# --- layouts -------------------------------------------------------------------------------------------


def test_fer2013_rows_become_grey_48px_images_with_their_splits(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [(3, "Training"), (0, "PublicTest"), (6, "PrivateTest"), (1, "Training")]
    with (tmp_path / "fer2013.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for code, usage in rows:
            writer.writerow([code, " ".join(str(v) for v in rng.integers(0, 256, 48 * 48)), usage])
    assert detect(tmp_path) == "fer2013" and detect(tmp_path / "fer2013.csv") == "fer2013"
    items = list(load(tmp_path))
    assert [(i.label, i.label4, i.split) for i in items] == [
        ("happy", "Happy", "train"),
        ("angry", "Angry", "dev"),
        ("neutral", "Neutral", "test"),
        ("disgust", "Angry", "train"),
    ]
    assert isinstance(items[0].image, bytes)
    grey = cv2.imdecode(np.frombuffer(items[0].image, np.uint8), cv2.IMREAD_UNCHANGED)
    assert grey is not None and grey.shape == (48, 48)
    assert items[0].meta["raw_label"] == "3"
    assert [i.id for i in load(tmp_path, split="test")] == [items[2].id]


def test_a_fer2013_row_of_the_wrong_size_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    with pytest.raises(DatasetError, match="48x48"):
        list(load(tmp_path))


def test_image_folders_by_class_with_and_without_split_folders(tmp_path: Path) -> None:
    png(tmp_path / "split" / "train" / "happy" / "a.png")
    png(tmp_path / "split" / "train" / "Sadness" / "b.jpg")
    png(tmp_path / "split" / "test" / "contempt" / "c.png")
    png(tmp_path / "flat" / "angry" / "d.png")
    assert detect(tmp_path / "split") == "folders"
    items = {i.id: i for i in load(tmp_path / "split")}
    assert {(i.label, i.label4, i.split) for i in items.values()} == {
        ("happy", "Happy", "train"),
        ("sad", "Sad", "train"),
        ("contempt", None, "test"),  # no four-class meaning: 7-class scores only
    }
    assert all(isinstance(i.image, Path) and i.image.is_file() for i in items.values())
    flat = list(load(tmp_path / "flat"))
    assert [(i.label, i.split) for i in flat] == [("angry", "")]


def test_numbered_folders_read_as_rafdb_or_affectnet(tmp_path: Path) -> None:
    for number in ("1", "4", "7"):
        png(tmp_path / "raf" / "train" / number / "x.png")
    for number in ("0", "1", "7"):
        png(tmp_path / "affectnet" / "val" / number / "x.png")
    assert detect(tmp_path / "raf") == "rafdb"
    assert sorted(i.label for i in load(tmp_path / "raf")) == ["happy", "neutral", "surprise"]
    assert detect(tmp_path / "affectnet") == "affectnet"
    assert {i.label: i.split for i in load(tmp_path / "affectnet")} == {
        "neutral": "dev",
        "happy": "dev",
        "contempt": "dev",
    }
    with pytest.raises(DatasetError, match="none of this layout's numbers"):
        list(load(tmp_path / "affectnet", "rafdb"))


def test_ravdess_labels_come_from_the_file_names(tmp_path: Path) -> None:
    wav(tmp_path / "Actor_12" / "03-01-05-01-02-01-12.wav")
    wav(tmp_path / "Actor_01" / "03-01-02-02-01-02-01.wav")
    (tmp_path / "Actor_01" / "README.txt").write_text("not a clip")
    assert detect(tmp_path) == "ravdess"
    items = {i.meta["raw_label"]: i for i in load(tmp_path)}
    angry, calm = items["05"], items["02"]
    assert (angry.label, angry.label4, angry.meta["speaker"]) == ("angry", "Angry", "ravdess-12")
    assert angry.text == "Dogs are sitting by the door"
    assert (calm.label, calm.label4, calm.meta["intensity"]) == ("calm", "Neutral", "02")
    assert isinstance(angry.audio, Path) and angry.video is None


def test_crema_d_labels_come_from_the_file_names(tmp_path: Path) -> None:
    wav(tmp_path / "AudioWAV" / "1001_DFA_ANG_XX.wav")
    wav(tmp_path / "AudioWAV" / "1091_IEO_FEA_HI.wav")
    wav(tmp_path / "AudioWAV" / "1002_TIE_NEU_XX.wav")
    assert detect(tmp_path) == "crema-d"
    items = {i.meta["raw_label"]: i for i in load(tmp_path)}
    assert {k: (i.label, i.label4) for k, i in items.items()} == {
        "ANG": ("angry", "Angry"),
        "FEA": ("fear", "Sad"),
        "NEU": ("neutral", "Neutral"),
    }
    assert items["ANG"].text == "Don't forget a jacket" and items["FEA"].meta["level"] == "HI"


def test_iemocap_turns_with_their_audio_and_words(tmp_path: Path) -> None:
    session = tmp_path / "Session1"
    evaluation = session / "dialog" / "EmoEvaluation"
    evaluation.mkdir(parents=True)
    (evaluation / "Ses01F_impro01.txt").write_text(
        "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
        "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n"
        "C-E2:\tNeutral;\t()\n"
        "[10.0100 - 11.3925]\tSes01F_impro01_M001\texc\t[4.0000, 4.0000, 3.0000]\n"
        "[12.0000 - 13.0000]\tSes01F_impro01_F002\tfru\t[2.0000, 3.5000, 3.0000]\n"
    )
    transcripts = session / "dialog" / "transcriptions"
    transcripts.mkdir(parents=True)
    (transcripts / "Ses01F_impro01.txt").write_text(
        "Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.\n"
        "Ses01F_impro01_M001 [010.0100-011.3925]: Do you have your forms?\n"
    )
    wav(session / "sentences" / "wav" / "Ses01F_impro01" / "Ses01F_impro01_F000.wav")
    assert detect(tmp_path) == "iemocap"
    items = list(load(tmp_path))
    assert [(i.label, i.label4) for i in items] == [("neutral", "Neutral"), ("excited", "Happy"), ("frustrated", None)]
    first, second, third = items
    assert first.text == "Excuse me." and isinstance(first.audio, Path)
    assert second.audio is None and second.text == "Do you have your forms?"
    assert third.text is None
    assert first.meta["session"] == "Session1" and first.meta["vad"] == "2.5000,2.5000,2.5000"


def test_meld_rows_find_their_clips_per_split(tmp_path: Path) -> None:
    for split, folder in (("train", "train_splits"), ("test", "output_repeated_splits_test")):
        with (tmp_path / f"{split}_sent_emo.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID"])
            writer.writerow([1, "Oh my God, you\x92re back!", "Rachel", "joy", "positive", 0, 0])
            writer.writerow([2, "I hate this.", "Ross", "anger", "negative", 0, 1])
        mp4(tmp_path / folder / "dia0_utt0.mp4", SAMPLES.astronaut(), TONE)
    assert detect(tmp_path) == "meld"
    items = {i.id: i for i in load(tmp_path)}
    happy = items["meld-train-dia0_utt0"]
    assert (happy.label, happy.label4, happy.split, happy.text) == (
        "happy",
        "Happy",
        "train",
        "Oh my God, you're back!",
    )
    assert happy.video == tmp_path / "train_splits" / "dia0_utt0.mp4"
    assert items["meld-test-dia0_utt0"].video == tmp_path / "output_repeated_splits_test" / "dia0_utt0.mp4"
    assert items["meld-train-dia0_utt1"].video is None  # its clip is missing: words only
    assert items["meld-train-dia0_utt1"].label4 == "Angry"


def test_manifests_in_csv_and_json(tmp_path: Path) -> None:
    png(tmp_path / "media" / "face.png")
    wav(tmp_path / "media" / "speech.wav")
    rows = [
        {"id": "a", "label": "joy", "text": "what a day", "image": "media/face.png", "audio": "", "split": "train"},
        {"id": "b", "label": "Sad", "text": "", "image": "", "audio": "media/speech.wav", "split": "test"},
    ]
    with (tmp_path / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["id", "label", "text", "image", "audio", "video", "split"])
        writer.writeheader()
        writer.writerows(rows)
    (tmp_path / "m.json").write_text(json.dumps(rows))
    for source in (tmp_path, tmp_path / "m.json"):
        assert detect(source) == "manifest"
        a, b = load(source)
        assert (a.id, a.label, a.label4, a.split, a.text) == ("a", "happy", "Happy", "train", "what a day")
        assert a.image == tmp_path / "media" / "face.png" and a.audio is None
        assert (b.label4, b.text, b.audio) == ("Sad", None, tmp_path / "media" / "speech.wav")
    (tmp_path / "bad.json").write_text(json.dumps([{"id": "x", "label": "sad", "image": "missing.png"}]))
    with pytest.raises(DatasetError, match=r"missing\.png is not a file"):
        list(load(tmp_path / "bad.json"))


def test_a_path_of_no_layout_says_what_each_layout_needs(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(DatasetError, match=r"matches no known layout.*fer2013\.csv.*--layout"):
        detect(tmp_path)
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="no layout this harness reads"):
        detect(tmp_path / "other.csv")
    with pytest.raises(DatasetError, match="does not exist"):
        detect(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="no RAVDESS file names"):
        list(load(tmp_path, "ravdess"))


def test_truth_labels_without_four_class_meaning_are_the_documented_ones() -> None:
    assert datasets.four_of("calm") == "Neutral" and datasets.four_of("exc") == "Happy"
    for label in ("contempt", "fru", "oth", "xxx", "unknown-word"):
        assert datasets.four_of(label) is None
    for label in ("neu", "hap", "ang", "sad", "fea", "dis", "sur", "joy", "sadness", "anger"):
        assert datasets.four_of(label) is not None


def test_the_limit_spreads_over_the_dataset() -> None:
    items = [Item(id=str(i), label="happy" if i < 50 else "sad", label4=None) for i in range(100)]
    chosen = sample(items, 10)
    assert len(chosen) == 10 and {i.label for i in chosen} == {"happy", "sad"}


# --- media -----------------------------------------------------------------------------------------------


def test_a_clip_gives_middle_frames_and_its_sound_at_16_khz(tmp_path: Path) -> None:
    speech = synthesize("I went to the market this morning.")
    clip = decode_clip(mp4(tmp_path / "clip.mp4", SAMPLES.astronaut(), speech, seconds=2.0))
    assert len(clip.frames) == 3 and clip.seconds == pytest.approx(2.0, abs=0.2)
    assert all(frame[:2] == b"\xff\xd8" for frame in clip.frames)
    assert clip.pcm is not None and abs(len(clip.pcm) - len(speech)) < 4096  # AAC adds its priming samples
    assert float(np.abs(clip.pcm.astype(np.float32)).mean()) > 0.2 * float(np.abs(speech.astype(np.float32)).mean())


def test_audio_at_another_rate_is_resampled(tmp_path: Path) -> None:
    import wave

    path = tmp_path / "48k.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(48000)
        handle.writeframes(np.zeros((48000, 2), np.int16).tobytes())
    assert abs(len(to_pcm16(path)) - 16000) < 200
    assert len(to_pcm16(wav(tmp_path / "16k.wav"))) == len(TONE)


def test_a_face_crop_is_framed_before_detection() -> None:
    framed = cv2.imdecode(np.frombuffer(to_jpeg(np.zeros((48, 48), np.uint8), face_crop=True), np.uint8), 1)
    assert framed is not None and framed.shape[0] >= 192 and framed.shape[0] == framed.shape[1]


# --- runs ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A manifest: the smiling astronaut, coins (no face), an angry sentence spoken, silence."""
    root = tmp_path_factory.mktemp("tiny")
    cv2.imwrite(str(root / "astronaut.jpg"), cv2.cvtColor(SAMPLES.astronaut(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / "coins.png"), SAMPLES.coins())
    wav(root / "angry.wav", synthesize("I am so angry and furious that nobody ever listens to me!"))
    wav(root / "silence.wav", np.zeros(16000, np.int16))
    rows = [
        {"id": "smile", "label": "happy", "image": "astronaut.jpg", "text": "I had a wonderful day, I love it"},
        {"id": "coins", "label": "neutral", "image": "coins.png"},
        {"id": "angry", "label": "angry", "audio": "angry.wav"},
        {"id": "quiet", "label": "neutral", "audio": "silence.wav", "text": "ok"},
    ]
    (root / "manifest.json").write_text(json.dumps(rows))
    return root


def test_a_run_in_process_reads_each_modality_and_fuses(tiny: Path) -> None:
    options = Options(backends={"asr": "sphinx"}, asr="missing", batch=2)
    with InProcess(options) as engine:
        results = {r.item.id: r for r in run(load(tiny), engine, options)}
    by = {(rid, p.modality): p for rid, r in results.items() for p in r.predictions}
    smile = by[("smile", "face")]
    assert smile.probabilities is not None and int(np.argmax(smile.probabilities)) == 1  # Happy
    assert smile.scores7 is not None and max(smile.scores7, key=smile.scores7.__getitem__) == "happy"
    assert smile.quality is not None and smile.seconds > 0
    assert by[("coins", "face")].probabilities is None  # no face: coverage, not a wrong answer
    assert ("coins", "voice") not in by  # no audio: not a voice item at all
    assert by[("angry", "voice")].probabilities is not None
    assert by[("quiet", "voice")].probabilities is None  # silence is not speech
    assert results["angry"].transcript  # recognised, since the manifest has no words for it
    assert by[("angry", "text")].probabilities is not None
    assert by[("smile", "text")].probabilities is not None and by[("smile", "text")].quality == 32.0
    fused = by[("smile", "fused")]
    assert fused.probabilities is not None and int(np.argmax(fused.probabilities)) == 1
    assert fused.seconds == pytest.approx(smile.seconds + by[("smile", "text")].seconds)
    assert ("coins", "fused") not in by  # one modality only: nothing to fuse
    assert all(p.truth4 == results[p.item_id].item.label4 for r in results.values() for p in r.predictions)


def test_the_command_writes_a_report(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main(["run", str(tiny), "--modalities", "face,text,fused", "--out", str(out), "--limit", "3"]) == 0
    assert (out / "report.md").is_file() and (out / "report.json").is_file()
    report = json.loads((out / "report.json").read_text())
    assert set(report["sections"]) >= {"face", "text"}
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert lines and all(json.loads(line)["modality"] in {"face", "text", "fused"} for line in lines)
    assert "python -m mrrrme.eval run" in (out / "report.md").read_text()


def test_the_command_refuses_a_path_of_no_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path)]) == 2
    assert "matches no known layout" in capsys.readouterr().err


def test_a_run_over_the_mesh_matches_the_run_in_process(tiny: Path) -> None:
    """Face, voice and text over NATS (a private nats-server, the services started here) give the same
    readings as their in-process pipelines, with the transport in the timing."""
    options = Options(modalities=("face", "voice", "text"), batch=4)
    items = list(load(tiny))
    with InProcess(options) as engine:
        local = {(p.item_id, p.modality): p for r in run(items, engine, options) for p in r.predictions}
    with Mesh(options, timeout_s=30) as mesh:
        remote = {(p.item_id, p.modality): p for r in run(items, mesh, options) for p in r.predictions}
    assert set(remote) == set(local) and len(remote) >= 6
    for key, prediction in local.items():
        if prediction.probabilities is None:
            assert remote[key].probabilities is None, key
        else:
            assert remote[key].probabilities == pytest.approx(prediction.probabilities, abs=1e-6), key
        assert remote[key].seconds > 0


# --- the packaged-data measurement's scoring ---------------------------------------------------------


class Always(Engine):
    """Answers every unit with one class (and finds a face in the first `faces` frames only)."""

    def __init__(self, emotion: str, faces: int = 0) -> None:
        self.reading = reading_from_probabilities([1.0 if e == emotion else 0.0 for e in EMOTIONS])
        self.found = faces

    def texts(self, texts: Sequence[str]) -> list[Said]:
        return [Said(reading=self.reading, seconds=0.001) for _ in texts]

    def faces(self, frames: Sequence[bytes]) -> list[Said]:
        return [Said(reading=self.reading if i < self.found else None, seconds=0.002) for i in range(len(frames))]


def test_text_valence_scores_against_the_held_out_labels() -> None:
    positive = packaged.text_valence(Always("Happy"), limit=200)
    negative = packaged.text_valence(Always("Angry"), limit=200)
    assert positive.tweets == negative.tweets == 200
    # Always one class: accuracy is that class's share, recall 1 for it and 0 for the others.
    share = positive.scores.support[1] / 200
    assert positive.scores.accuracy == pytest.approx(share) and positive.scores.recall[1] == 1.0
    assert negative.scores.accuracy == pytest.approx(negative.scores.support[2] / 200)
    assert positive.four_class_counts["Happy"] == 200 and negative.majority_label == "negative"


def test_face_detection_counts_faces_and_false_faces_apart() -> None:
    result = packaged.face_detection(Always("Neutral", faces=120))  # all 100 faces and 20 non-faces
    assert (result.faces_found, result.false_faces, result.non_faces) == (100, 20, 100)
    assert result.ms_per_frame == pytest.approx(2.0)


def test_word_errors_are_an_edit_distance() -> None:
    assert packaged.edit_distance(packaged.words("I feel sad, and tired"), packaged.words("i feel bad tired")) == 2


def fused_of(out: Path) -> dict[str, list[float]]:
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    return {row["item_id"]: row["probabilities"] for row in rows if row["modality"] == "fused"}


def test_a_weights_file_changes_what_the_run_fuses(tiny: Path, tmp_path: Path) -> None:
    """`--weights` fuses with fit-fusion's file: here all weight on the words, so fused equals text."""
    weights = tmp_path / "weights.json"
    fixed = {"face": 0.0, "voice": 0.0, "text": 1.0, "low_quality_face_factor": 1.0, "no_speech_voice_factor": 1.0,
             "short_text_factor": 1.0}  # fmt: skip
    weights.write_text(json.dumps({"schema": "mrrrme.fusion-weights", "version": 1, "kind": "fixed", "fixed": fixed,
                                   "classes": ["Neutral", "Happy", "Sad", "Angry"]}))  # fmt: skip
    seed, fitted = tmp_path / "seed", tmp_path / "fitted"
    common = ["run", str(tiny), "--modalities", "face,text,fused", "--limit", "1"]
    assert main([*common, "--out", str(seed)]) == 0
    assert main([*common, "--out", str(fitted), "--weights", str(weights)]) == 0
    rows = [json.loads(line) for line in (fitted / "predictions.jsonl").read_text().splitlines()]
    text = next(row["probabilities"] for row in rows if row["modality"] == "text")
    assert fused_of(fitted)["smile"] == pytest.approx(text)
    assert fused_of(seed)["smile"] != pytest.approx(text)  # the seed's 0.4/0.3/0.3 mixes in the face
    (tmp_path / "bad.json").write_text("{}")
    assert main([*common, "--out", str(tmp_path / "x"), "--weights", str(tmp_path / "bad.json")]) == 2
