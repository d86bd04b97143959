"""The memory service as the rest of the project sees it (see mrrrme/registry.py)."""

from mrrrme import subjects
from mrrrme.registry import ServiceManifest

MANIFEST = ServiceManifest(
    name="memory",
    summary="the only writer of conversation data: turns, timeline, summaries, retention",
    order=80,
    durables=((subjects.RECORD_STREAM, "memory-turns"), (subjects.RECORD_STREAM, "memory-ends")),
)
