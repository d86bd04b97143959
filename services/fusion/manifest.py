"""The fusion service as the rest of the project sees it (see mrrrme/registry.py)."""

from mrrrme import subjects
from mrrrme.registry import ServiceManifest

MANIFEST = ServiceManifest(
    name="fusion",
    summary="joins face, voice and words per utterance in Redis, fuses them, publishes the durable turn",
    order=50,
    queue=subjects.FUSION_QUEUE,
)
