"""`make models`: fetch the full profile's weights into the model cache, on a machine that reaches the hub.

    .venv/bin/python -m mrrrme.models [--cache DIR]
    COQUI_TOS_AGREED=1 make models          # also accept XTTS v2's licence (CPML, non-commercial) unasked

Services never download at start-up (a GPU box behind a firewall would hang, and a half-downloaded model
is worse than a clear error); they read this cache (HF_HOME, default ~/.cache/huggingface) or a local
directory named in MRRRME_<SERVICE>_MODEL. This cannot run in the project's own sandbox, which reaches
no model hub: there the full backends are tested on tiny models built by the tests.

What to fetch comes from the registry: every backend of the full profile that declares a `fetch`
(`mrrrme.registry.BackendSpec`) is asked to fill the cache with the weights its settings name.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mrrrme import registry
from mrrrme.registry import load_object


def cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HOME)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", help="model cache directory (sets HF_HOME)")
    args = parser.parse_args()
    if args.cache:
        os.environ["HF_HOME"] = str(Path(args.cache).resolve())
    os.environ.pop("HF_HUB_OFFLINE", None)
    failures = 0
    for manifest in registry.services().values():
        for spec in manifest.backends.specs() if manifest.backends else []:
            if "full" not in spec.profiles or not spec.fetch:
                continue
            settings = manifest.settings_class()()
            print(f"[models] {manifest.name}: {spec.description}", flush=True)
            try:
                where = load_object(spec.fetch)(settings, cache_dir(), sys.stdin.isatty())
                print(f"[models]   -> {where}", flush=True)
            except Exception as exc:  # report every model, then fail
                failures += 1
                print(f"[models]   failed: {exc}", file=sys.stderr, flush=True)
    if failures:
        print(f"[models] {failures} model(s) could not be fetched (is the hub reachable?)", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
