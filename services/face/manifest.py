"""The face service as the rest of the project sees it (see mrrrme/registry.py)."""

from mrrrme import subjects
from mrrrme.registry import ServiceManifest
from services.face.backends import BACKENDS

MANIFEST = ServiceManifest(
    name="face",
    summary="camera frames -> face emotion (detector + expression model), micro-batched",
    order=10,
    queue=subjects.FACE_QUEUE,
    backends=BACKENDS,
)
