"""The asr service as the rest of the project sees it (see mrrrme/registry.py)."""

from mrrrme import subjects
from mrrrme.registry import ServiceManifest
from services.asr.backends import BACKENDS

MANIFEST = ServiceManifest(
    name="asr",
    summary="utterances -> transcripts",
    order=30,
    queue=subjects.ASR_QUEUE,
    backends=BACKENDS,
)
