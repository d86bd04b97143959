"""The tts service as the rest of the project sees it (see mrrrme/registry.py)."""

from mrrrme import subjects
from mrrrme.registry import ServiceManifest
from services.tts.backends import BACKENDS

MANIFEST = ServiceManifest(
    name="tts",
    summary="reply sentences -> speech with a viseme track",
    service="services.tts.service:TtsService",
    settings="services.tts.settings:TtsSettings",
    extra="tts",
    order=70,
    queue=subjects.TTS_QUEUE,
    backends=BACKENDS,
)
