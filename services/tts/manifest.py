"""The tts service as the rest of the project sees it (see mrrrme/registry.py)."""

from mrrrme import subjects
from mrrrme.registry import ServiceManifest
from services.tts.backends import BACKENDS

MANIFEST = ServiceManifest(
    name="tts",
    summary="reply sentences -> speech with a viseme track",
    order=70,
    durables=((subjects.REPLY_STREAM, "tts"),),
    backends=BACKENDS,
)
