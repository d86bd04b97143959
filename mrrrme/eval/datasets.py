"""Dataset adapters: the layouts labelled emotion data comes in, read as `Item`s.

`load(path, layout=None)` reads one of the layouts below (`detect(path)` recognises it when no layout
is named) and yields an `Item` per example. Media are referenced by path, never copied, except FER2013,
whose pixels live in the CSV: each row becomes an in-memory PNG (nothing is written to disk).

- `fer2013`: `fer2013.csv` (emotion 0-6, pixels 48x48 grey, Usage). 0 angry, 1 disgust, 2 fear,
  3 happy, 4 sad, 5 surprise, 6 neutral. Splits: Training -> train, PublicTest -> dev, PrivateTest -> test.
- `folders`: image folders by class, `<root>/[train|val|test/]<label>/*.jpg` (RAF-DB, AffectNet or
  any export with named folders). Label: the folder name; split: the parent folder.
- `rafdb`: RAF-DB's basic set with numbered folders: 1 surprise, 2 fear, 3 disgust, 4 happy, 5 sad,
  6 angry, 7 neutral.
- `affectnet`: AffectNet with numbered folders: 0 neutral, 1 happy, 2 sad, 3 surprise, 4 fear,
  5 disgust, 6 angry, 7 contempt. Detected when a folder "0" is there; 1-7 alone reads as RAF-DB.
- `ravdess`: `MM-VV-EE-II-SS-RR-AA.wav` (or `.mp4`): EE 01 neutral, 02 calm, 03 happy, 04 sad,
  05 angry, 06 fearful, 07 disgust, 08 surprised. No splits (the actor is `meta["speaker"]`).
- `crema-d`: `ActorID_Sentence_Emotion_Level.wav` (or `.flv`/`.mp4`): ANG, DIS, FEA, HAP, NEU, SAD.
  No splits (the actor is `meta["speaker"]`); the text is the sentence the code names.
- `iemocap`: `Session*/dialog/EmoEvaluation/*.txt` (`[start - end] turn emotion [V, A, D]`), audio in
  `Session*/sentences/wav/<dialog>/<turn>.wav`, words in `Session*/dialog/transcriptions/<dialog>.txt`.
  No splits (the session is `meta["session"]`: leave-one-session-out is the usual protocol).
- `meld`: `{train,dev,test}_sent_emo.csv` (Utterance, Emotion, Dialogue_ID, Utterance_ID) and clips
  `dia{D}_utt{U}.mp4` anywhere under the folder (a folder name with train/dev/test picks the split's
  clip). Splits: the CSV's name. The face, the voice and the words are of the same utterance.
- `manifest`: a CSV, JSON list or JSON lines with id, label, text, image, audio, video, split (paths
  relative to the manifest), for anything else.

Labels are kept in one spelling (`canonical`: neutral, happy, sad, angry, fear, disgust, surprise, and
the dataset's own word for anything else), so the 7-class scores compare like with like; the dataset's
own code stays in `meta["raw_label"]`. The four-class truth is `TRUTH_TO_FOUR`: the mesh's mapping
(`mrrrme.emotions.LABEL_TO_FOUR`, the one the models' outputs go through) plus two truth-only entries:
- `calm` (RAVDESS) -> Neutral: RAVDESS describes it as a low-arousal neutral variant, and the mesh's
  Neutral is "no emotion to respond to";
- `excited` (IEMOCAP `exc`) -> Happy: positive valence, high arousal; IEMOCAP four-class studies merge
  it with happiness as a rule, so scores stay comparable with the literature.
Labels with no four-class meaning (`label4` None; they count for the 7-class scores only): `contempt`
(AffectNet), `frustrated` (IEMOCAP `fru`: often read as anger, but the corpus keeps it apart and the
four-class literature drops it), `other` and `xxx` (IEMOCAP: no evaluator agreement), and any
unknown label of a manifest or a folder. These are not added to `LABEL_TO_FOUR` itself: that table is
what the services accept from models, and no model says "calm".
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from mrrrme.emotions import LABEL_TO_FOUR
from mrrrme.eval.types import Item

LAYOUTS = ("fer2013", "folders", "rafdb", "affectnet", "ravdess", "crema-d", "iemocap", "meld", "manifest")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg"}
VIDEO_SUFFIXES = {".mp4", ".flv", ".avi", ".mkv", ".mov", ".webm"}


class DatasetError(ValueError):
    """The path holds no layout this module reads, or a file in it is not what its layout says."""


CANONICAL: dict[str, str] = {
    "neutral": "neutral", "neu": "neutral",
    "happy": "happy", "happiness": "happy", "joy": "happy", "hap": "happy",
    "sad": "sad", "sadness": "sad",
    "angry": "angry", "anger": "angry", "ang": "angry",
    "fear": "fear", "fearful": "fear", "fea": "fear",
    "disgust": "disgust", "disgusted": "disgust", "dis": "disgust",
    "surprise": "surprise", "surprised": "surprise", "sur": "surprise",
    "calm": "calm", "contempt": "contempt",
    "exc": "excited", "excited": "excited", "fru": "frustrated", "frustrated": "frustrated",
    "oth": "other", "other": "other", "xxx": "xxx",
}  # fmt: skip

TRUTH_TO_FOUR: dict[str, str] = {**LABEL_TO_FOUR, "calm": "Neutral", "excited": "Happy"}


def canonical(label: str) -> str:
    """One spelling per emotion (the datasets' and the models' words alike); unknown words lower-cased."""
    key = label.strip().lower()
    return CANONICAL.get(key, key)


def four_of(label: str) -> str | None:
    """The four-class truth of a label (see the module docstring), or None when it has none."""
    return TRUTH_TO_FOUR.get(canonical(label))


def item(
    id: str,
    raw: str,
    *,
    split: str = "",
    text: str | None = None,
    image: Path | bytes | None = None,
    audio: Path | None = None,
    video: Path | None = None,
    meta: dict[str, str] | None = None,
) -> Item:
    """An `Item` whose label is canonical and whose four-class truth follows from it."""
    label = canonical(raw)
    return Item(
        id=id,
        label=label,
        label4=four_of(label),
        split=split,
        text=text,
        image=image,
        audio=audio,
        video=video,
        meta={"raw_label": raw, **(meta or {})},
    )


def split_name(name: str) -> str:
    """A dataset's split word -> train / dev / test ("" when it is none of them)."""
    key = name.strip().lower()
    if key in {"train", "training", "trainset", "train_set"}:
        return "train"
    if key in {"dev", "val", "valid", "validation", "publictest"}:
        return "dev"
    if key in {"test", "testing", "privatetest", "test_set"}:
        return "test"
    return ""


# --- FER2013 ------------------------------------------------------------------------------------

FER2013_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def _png(grey: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="PNG")  # 2-D uint8: a grey ("L") image
    return buffer.getvalue()


def fer2013(path: Path) -> Iterator[Item]:
    csv_path = path / "fer2013.csv" if path.is_dir() else path
    with csv_path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if not {"emotion", "pixels"} <= set(reader.fieldnames or ()):
            raise DatasetError(f"{csv_path}: a FER2013 CSV has the columns emotion,pixels,Usage")
        for row_number, row in enumerate(reader):
            pixels = np.array(row["pixels"].split(), dtype=np.uint8)
            if pixels.size != 48 * 48:
                raise DatasetError(f"{csv_path} row {row_number + 2}: {pixels.size} pixels, FER2013 has 48x48")
            code = int(row["emotion"])
            yield item(
                f"fer2013-{row_number}",
                FER2013_LABELS[code],
                split=split_name(row.get("Usage", "")),
                image=_png(pixels.reshape(48, 48)),
                meta={"face_crop": "1", "raw_label": str(code)},
            )


# --- image folders by class -------------------------------------------------------------------

RAFDB_LABELS = {"1": "surprise", "2": "fear", "3": "disgust", "4": "happy", "5": "sad", "6": "angry", "7": "neutral"}
AFFECTNET_LABELS = {
    "0": "neutral", "1": "happy", "2": "sad", "3": "surprise", "4": "fear", "5": "disgust", "6": "angry",
    "7": "contempt",
}  # fmt: skip


def _class_folders(root: Path) -> list[tuple[str, Path]]:
    """(split, class folder) pairs: `root/<label>/` or `root/<split>/<label>/`."""
    found: list[tuple[str, Path]] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if split_name(child.name) and any(grand.is_dir() for grand in child.iterdir()):
            found += [(split_name(child.name), grand) for grand in sorted(child.iterdir()) if grand.is_dir()]
        elif any(f.suffix.lower() in IMAGE_SUFFIXES for f in child.iterdir()):
            found.append(("", child))
    return found


def image_folders(path: Path, numbering: dict[str, str] | None = None) -> Iterator[Item]:
    folders = _class_folders(path)
    if not folders:
        raise DatasetError(f"{path}: no class folders of images (<root>/[train/]<label>/*.jpg)")
    for split, folder in folders:
        raw = folder.name
        if numbering is not None and raw not in numbering:
            raise DatasetError(f"{folder}: folder {raw!r} is none of this layout's numbers {sorted(numbering)}")
        label = numbering[raw] if numbering is not None else raw
        for image in sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES):
            yield item(
                f"{split + '/' if split else ''}{raw}/{image.stem}",
                label,
                split=split,
                image=image,
                meta={"raw_label": raw, "face_crop": "1"},
            )


# --- RAVDESS, CREMA-D: labels in the file names ----------------------------------------------------

RAVDESS_NAME = re.compile(r"^(0[1-3])-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)$")
RAVDESS_EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
RAVDESS_STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
CREMAD_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX|X)$")
CREMAD_SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened", "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about", "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold", "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment", "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before", "TSI": "The surface is slick", "WSI": "We'll stop in a couple of minutes",
}  # fmt: skip


def _media_files(path: Path) -> Iterator[Path]:
    for file in sorted(path.rglob("*")):
        if file.is_file() and file.suffix.lower() in AUDIO_SUFFIXES | VIDEO_SUFFIXES:
            yield file


def _audio(file: Path) -> Path | None:
    return file if file.suffix.lower() in AUDIO_SUFFIXES else None


def _video(file: Path) -> Path | None:
    return file if file.suffix.lower() in VIDEO_SUFFIXES else None


def ravdess(path: Path) -> Iterator[Item]:
    """Audio-only (03) and audio-visual (01) files; video-only (02) ones have no sound but still a face.
    The text is the statement spoken: the same two lexically neutral sentences for every emotion, so the
    words carry no emotion here by design (leave `text` out of `--modalities` to score without them)."""
    count = 0
    for file in _media_files(path):
        match = RAVDESS_NAME.match(file.stem)
        if match is None:
            continue
        modality, channel, emotion, intensity, statement, repetition, actor = match.groups()
        count += 1
        yield item(
            f"ravdess-{file.stem}",
            RAVDESS_EMOTIONS[int(emotion) - 1],
            text=RAVDESS_STATEMENTS[statement],
            meta={
                "raw_label": emotion, "speaker": f"ravdess-{actor}", "intensity": intensity,
                "channel": "song" if channel == "02" else "speech", "modality": modality, "repetition": repetition,
            },
            audio=_audio(file),
            video=_video(file),
        )  # fmt: skip
    if not count:
        raise DatasetError(f"{path}: no RAVDESS file names (MM-VV-EE-II-SS-RR-AA.wav) under it")


def crema_d(path: Path) -> Iterator[Item]:
    count = 0
    for file in _media_files(path):
        match = CREMAD_NAME.match(file.stem)
        if match is None:
            continue
        actor, sentence, emotion, level = match.groups()
        count += 1
        yield item(
            f"crema-d-{file.stem}",
            emotion.lower(),
            text=CREMAD_SENTENCES.get(sentence),
            meta={"raw_label": emotion, "speaker": f"crema-d-{actor}", "level": level, "sentence": sentence},
            audio=_audio(file),
            video=_video(file),
        )
    if not count:
        raise DatasetError(f"{path}: no CREMA-D file names (ActorID_Sentence_Emotion_Level.wav) under it")


# --- IEMOCAP ------------------------------------------------------------------------------------------

IEMOCAP_LINE = re.compile(r"^\[(\d+\.?\d*)\s*-\s*(\d+\.?\d*)\]\s+(\S+)\s+(\S+)\s+\[([^\]]*)\]")
IEMOCAP_TRANSCRIPT = re.compile(r"^(\S+)\s+\[[^\]]*\]:\s*(.*)$")


def _iemocap_transcripts(folder: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    for file in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        for line in file.read_text(errors="replace").splitlines():
            match = IEMOCAP_TRANSCRIPT.match(line.strip())
            if match:
                texts[match.group(1)] = match.group(2).strip()
    return texts


def iemocap(path: Path) -> Iterator[Item]:
    sessions = sorted(p for p in path.glob("Session*") if (p / "dialog" / "EmoEvaluation").is_dir())
    if not sessions:
        raise DatasetError(f"{path}: no Session*/dialog/EmoEvaluation folders (IEMOCAP's layout)")
    for session in sessions:
        texts = _iemocap_transcripts(session / "dialog" / "transcriptions")
        for evaluation in sorted((session / "dialog" / "EmoEvaluation").glob("*.txt")):
            for line in evaluation.read_text(errors="replace").splitlines():
                match = IEMOCAP_LINE.match(line.strip())
                if match is None:
                    continue
                start, end, turn, emotion, vad = match.groups()
                dialog = turn.rsplit("_", 1)[0]
                wav = session / "sentences" / "wav" / dialog / f"{turn}.wav"
                yield item(
                    f"iemocap-{turn}",
                    emotion,
                    text=texts.get(turn),
                    audio=wav if wav.is_file() else None,
                    meta={
                        "raw_label": emotion, "session": session.name, "dialog": dialog, "start": start,
                        "end": end, "vad": vad.replace(" ", ""), "speaker": f"{session.name}-{turn.split('_')[-1][0]}",
                    },
                )  # fmt: skip


# --- MELD ---------------------------------------------------------------------------------------------

MELD_COLUMNS = {"Utterance", "Emotion", "Dialogue_ID", "Utterance_ID"}
MELD_CLIP = re.compile(r"^dia(\d+)_utt(\d+)$")


def _csv_columns(path: Path) -> set[str]:
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        return {name.strip() for name in next(csv.reader(handle), [])}


def _meld_clips(root: Path) -> dict[tuple[str, str], Path]:
    """(split guessed from the folder name, "dia{D}_utt{U}") -> clip."""
    clips: dict[tuple[str, str], Path] = {}
    for file in root.rglob("dia*_utt*.mp4"):
        if MELD_CLIP.match(file.stem) and not file.name.startswith("._"):
            folder = file.parent.name.lower()
            split = next((s for s in ("train", "dev", "test") if s in folder), "")
            clips[(split, file.stem)] = file
    return clips


def meld(path: Path) -> Iterator[Item]:
    root = path if path.is_dir() else path.parent
    tables = sorted(root.glob("*.csv")) if path.is_dir() else [path]
    tables = [t for t in tables if _csv_columns(t) >= MELD_COLUMNS]
    if not tables:
        raise DatasetError(f"{path}: no MELD CSV (columns {', '.join(sorted(MELD_COLUMNS))})")
    clips = _meld_clips(root)
    for table in tables:
        split = next((s for s in ("train", "dev", "test") if table.name.lower().startswith(s)), "")
        with table.open(newline="", encoding="utf-8", errors="replace") as handle:
            for row in csv.DictReader(handle):
                row = {key.strip(): value for key, value in row.items() if key is not None}
                name = f"dia{row['Dialogue_ID'].strip()}_utt{row['Utterance_ID'].strip()}"
                clip = clips.get((split, name)) or clips.get(("", name))
                yield item(
                    f"meld-{split or 'all'}-{name}",
                    row["Emotion"],
                    split=split,
                    # MELD's CSVs were written in cp1252 and read as UTF-8 (its apostrophes show as "\x92").
                    text=row["Utterance"].replace("\x92", "'").replace("\x91", "'").strip(),
                    video=clip,
                    meta={"raw_label": row["Emotion"], "speaker": row.get("Speaker", ""),
                          "sentiment": row.get("Sentiment", ""), "clip": name},
                )  # fmt: skip


# --- a plain manifest ---------------------------------------------------------------------------------

MANIFEST_NAMES = ("manifest.csv", "manifest.json", "manifest.jsonl")


def _manifest_rows(path: Path) -> Iterable[dict[str, object]]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            yield from csv.DictReader(handle)
    elif path.suffix.lower() == ".jsonl":
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)
    else:
        rows = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(rows, list):
            raise DatasetError(f"{path}: a JSON manifest is a list of objects with id,label,...")
        yield from rows


def manifest(path: Path) -> Iterator[Item]:
    if path.is_dir():
        path = next((path / name for name in MANIFEST_NAMES if (path / name).is_file()), path / MANIFEST_NAMES[0])
    base = path.parent

    def media(value: object) -> Path | None:
        if value in (None, ""):
            return None
        file = Path(str(value))
        file = file if file.is_absolute() else base / file
        if not file.is_file():
            raise DatasetError(f"{path}: {value} is not a file")
        return file

    for number, row in enumerate(_manifest_rows(path)):
        if not isinstance(row, dict) or not row.get("label"):
            raise DatasetError(f"{path}: entry {number + 1} has no label")
        text = row.get("text")
        yield item(
            str(row.get("id") or f"item-{number}"),
            str(row["label"]),
            split=split_name(str(row.get("split") or "")) or str(row.get("split") or ""),
            text=str(text) if text not in (None, "") else None,
            image=media(row.get("image")),
            audio=media(row.get("audio")),
            video=media(row.get("video")),
        )


# --- which layout is this? -------------------------------------------------------------------------


def _first_media_stems(path: Path, limit: int = 200) -> list[str]:
    stems = []
    for file in path.rglob("*"):
        if file.suffix.lower() in AUDIO_SUFFIXES | VIDEO_SUFFIXES:
            stems.append(file.stem)
            if len(stems) >= limit:
                break
    return stems


def _folder_layout(path: Path) -> str | None:
    folders = _class_folders(path)
    if not folders:
        return None
    names = {folder.name for _, folder in folders}
    if names <= set(AFFECTNET_LABELS) and "0" in names:
        return "affectnet"
    if names <= set(RAFDB_LABELS):
        return "rafdb"
    return "folders"


def detect(path: Path) -> str:
    """The layout of `path`, or DatasetError saying what each layout would need."""
    if not path.exists():
        raise DatasetError(f"{path} does not exist")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in {".json", ".jsonl"}:
            return "manifest"
        if suffix == ".csv":
            columns = _csv_columns(path)
            if {"emotion", "pixels"} <= columns:
                return "fer2013"
            if columns >= MELD_COLUMNS:
                return "meld"
            if {"id", "label"} <= columns:
                return "manifest"
            raise DatasetError(f"{path}: a CSV with columns {sorted(columns)} is no layout this harness reads")
        raise DatasetError(f"{path}: give a dataset folder, a CSV or a JSON manifest")
    if (path / "fer2013.csv").is_file():
        return "fer2013"
    if any((path / name).is_file() for name in MANIFEST_NAMES):
        return "manifest"
    if any(p.is_dir() for p in path.glob("Session*/dialog/EmoEvaluation")):
        return "iemocap"
    if any(_csv_columns(table) >= MELD_COLUMNS for table in path.glob("*.csv")):
        return "meld"
    stems = _first_media_stems(path)
    if any(RAVDESS_NAME.match(stem) for stem in stems):
        return "ravdess"
    if any(CREMAD_NAME.match(stem) for stem in stems):
        return "crema-d"
    layout = _folder_layout(path)
    if layout:
        return layout
    raise DatasetError(
        f"{path} matches no known layout. Expected one of: fer2013.csv (FER2013); <label>/*.jpg or "
        "<split>/<label>/*.jpg (image folders, RAF-DB, AffectNet); RAVDESS (03-01-05-01-02-01-12.wav) or "
        "CREMA-D (1001_DFA_ANG_XX.wav) file names; Session*/dialog/EmoEvaluation (IEMOCAP); "
        "*_sent_emo.csv + dia*_utt*.mp4 (MELD); manifest.csv/.json (id,label,text,image,audio,video,split). "
        "Name one with --layout."
    )


ADAPTERS: dict[str, Callable[[Path], Iterator[Item]]] = {
    "fer2013": fer2013,
    "folders": image_folders,
    "rafdb": lambda path: image_folders(path, RAFDB_LABELS),
    "affectnet": lambda path: image_folders(path, AFFECTNET_LABELS),
    "ravdess": ravdess,
    "crema-d": crema_d,
    "iemocap": iemocap,
    "meld": meld,
    "manifest": manifest,
}


def load(path: Path, layout: str | None = None, split: str | None = None) -> Iterator[Item]:
    """The items of the dataset at `path` (`layout` as named, or detected), only `split`'s when given."""
    chosen = layout or detect(path)
    if chosen not in ADAPTERS:
        raise DatasetError(f"no layout named {chosen!r}; known: {', '.join(LAYOUTS)}")
    if not path.exists():
        raise DatasetError(f"{path} does not exist")
    for found in ADAPTERS[chosen](path):
        if split is None or found.split == split:
            yield found
