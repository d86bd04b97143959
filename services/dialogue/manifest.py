"""The dialogue service as the rest of the project sees it (see mrrrme/registry.py)."""

from mrrrme import subjects
from mrrrme.registry import ServiceManifest
from services.dialogue.backends import BACKENDS

MANIFEST = ServiceManifest(
    name="dialogue",
    summary="turns -> reply sentences (crisis check first, then the composer or an LLM)",
    order=60,
    queue=subjects.DIALOGUE_QUEUE,
    durables=((subjects.TURN_STREAM, "dialogue"),),
    backends=BACKENDS,
)
