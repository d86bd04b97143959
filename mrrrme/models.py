"""`make models`: fetch the full profile's weights into the model cache, on a machine that reaches the hub.

    .venv/bin/python -m mrrrme.models [--cache DIR]

Services never download at start-up (a GPU box behind a firewall would hang, and a half-downloaded model
is worse than a clear error); they read this cache (HF_HOME, default ~/.cache/huggingface) or a local
directory named in MRRRME_<SERVICE>_MODEL. This cannot run in the project's own sandbox, which reaches
no model hub: there the full backends are tested on tiny models built by the tests.
"""

from __future__ import annotations

import argparse
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", help="model cache directory (sets HF_HOME)")
    args = parser.parse_args()
    if args.cache:
        os.environ["HF_HOME"] = args.cache
    os.environ.pop("HF_HUB_OFFLINE", None)
    from huggingface_hub import snapshot_download

    from services.asr.settings import AsrSettings
    from services.face.settings import FaceSettings
    from services.text.settings import TextSettings
    from services.voice.settings import VoiceSettings

    failures = 0
    for service, model in (
        ("face", FaceSettings().model),
        ("voice", VoiceSettings().model),
        ("text", TextSettings().model),
    ):
        print(f"[models] {service}: {model}", flush=True)
        try:
            print(f"[models]   -> {snapshot_download(model)}", flush=True)
        except Exception as exc:  # report every model, then fail
            failures += 1
            print(f"[models]   failed: {exc}", file=sys.stderr, flush=True)
    asr_model = AsrSettings().model
    print(f"[models] asr: faster-whisper {asr_model}", flush=True)
    try:
        from faster_whisper.utils import download_model

        print(f"[models]   -> {download_model(asr_model)}", flush=True)
    except Exception as exc:
        failures += 1
        print(f"[models]   failed: {exc}", file=sys.stderr, flush=True)
    if failures:
        print(f"[models] {failures} model(s) could not be fetched (is the hub reachable?)", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
