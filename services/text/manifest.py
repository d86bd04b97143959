"""The text service as the rest of the project sees it (see mrrrme/registry.py)."""

from mrrrme import subjects
from mrrrme.registry import ServiceManifest
from services.text.backends import BACKENDS

MANIFEST = ServiceManifest(
    name="text",
    summary="transcripts -> text emotion (model + documented rules), micro-batched",
    order=40,
    queue=subjects.TEXT_QUEUE,
    backends=BACKENDS,
)
