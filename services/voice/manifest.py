"""The voice service as the rest of the project sees it (see mrrrme/registry.py)."""

from mrrrme import subjects
from mrrrme.registry import ServiceManifest
from services.voice.backends import BACKENDS

MANIFEST = ServiceManifest(
    name="voice",
    summary="utterances -> voice emotion, micro-batched",
    order=20,
    queue=subjects.VOICE_QUEUE,
    backends=BACKENDS,
)
