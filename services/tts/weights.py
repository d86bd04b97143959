"""XTTS v2's weights for `make models` (its BackendSpec's `fetch`): a plain checkpoint directory,
`<cache>/xtts_v2` (config.json, model.pth, vocab.json, speakers_xtts.pth), which the full backend loads
as MRRRME_TTS_MODEL without Coqui's own downloader. deploy/compose.gpu.yaml and the Kubernetes gpu overlay
point MRRRME_TTS_MODEL at /models/xtts_v2. Its licence (CPML, non-commercial) must be accepted:
COQUI_TOS_AGREED=1 (Coqui's own switch), or a yes at the prompt when run from a terminal.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from services.tts.settings import TtsSettings

XTTS_DIR = "xtts_v2"
"""Where under the cache XTTS v2 goes, unless MRRRME_TTS_MODEL already names a directory."""
XTTS_LICENCE = "https://coqui.ai/cpml"
TOS_FILE = "tos_agreed.txt"
"""The file Coqui's downloader writes once its licence is accepted; we write the same."""


@dataclass(frozen=True)
class CoquiSource:
    """Where Coqui's model list says a model's files live on the hub."""

    repo_id: str
    ignore: tuple[str, ...]
    licence: str


def coqui_source(model_name: str) -> CoquiSource:
    """Look a Coqui model name (`tts_models/multilingual/multi-dataset/xtts_v2`) up in the model list that
    coqui-tts ships, so the repository and the files left out are the ones its own downloader would use."""
    spec = importlib.util.find_spec("TTS")
    if spec is None or spec.origin is None:
        raise RuntimeError("coqui-tts is not installed: pip install -e '.[full]'")
    listing = json.loads((Path(spec.origin).parent / ".models.json").read_text())
    try:
        kind, language, dataset, model = model_name.split("/")
        item = listing[kind][language][dataset][model]
    except (ValueError, KeyError):
        raise RuntimeError(f"{model_name!r} is not in coqui-tts's model list") from None
    if "repo_id" not in item:
        raise RuntimeError(f"{model_name!r} is not on the Hugging Face hub (coqui-tts fetches it elsewhere)")
    return CoquiSource(item["repo_id"], tuple(item.get("ignore", ())), str(item.get("license", "")))


def xtts_target(configured: str, cache: Path) -> tuple[str, Path]:
    """(Coqui model name to fetch, directory to fill) for the configured MRRRME_TTS_MODEL: a name is fetched
    into `<cache>/xtts_v2`; a directory is filled with the default XTTS v2."""
    from services.tts.settings import TtsSettings

    if configured.startswith("tts_models/"):  # Coqui's names are tts_models/<language>/<dataset>/<model>
        return configured, cache / XTTS_DIR
    return str(TtsSettings.model_fields["model"].default), Path(configured).expanduser()


def licence_accepted(directory: Path, interactive: bool) -> bool:
    """XTTS v2's weights are CPML (non-commercial): accepted before, by COQUI_TOS_AGREED=1, or at a prompt."""
    if (directory / TOS_FILE).exists() or os.environ.get("COQUI_TOS_AGREED") == "1":
        return True
    if not interactive:
        return False
    print(f"[models] XTTS v2 is licensed under the CPML, non-commercial use only ({XTTS_LICENCE}).", flush=True)
    return input("[models] Do you accept its terms? [y/N] ").strip().lower() == "y"


def fetch_xtts(configured: str, cache: Path, interactive: bool) -> Path:
    from huggingface_hub import snapshot_download

    name, directory = xtts_target(configured, cache)
    source = coqui_source(name)
    if not licence_accepted(directory, interactive):
        raise RuntimeError(
            f"the XTTS v2 licence (CPML, {XTTS_LICENCE}) was not accepted: run with COQUI_TOS_AGREED=1 to accept it"
        )
    directory.mkdir(parents=True, exist_ok=True)
    snapshot_download(source.repo_id, local_dir=directory, ignore_patterns=list(source.ignore))
    (directory / TOS_FILE).write_text("I have read, understood and agreed to the Terms and Conditions.\n")
    return directory


def fetch_weights(settings: TtsSettings, cache: Path, interactive: bool) -> str:
    directory = fetch_xtts(settings.model, cache, interactive)
    return f"{directory}  (set MRRRME_TTS_MODEL={directory} to use it)"
