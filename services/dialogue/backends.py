"""Dialogue backends, by name (`MRRRME_DIALOGUE_BACKEND`): what writes the reply after the crisis check.

Each target is called with the settings and gives a `ChatClient`, or None when the offline composer
answers (lite, or groq without an API key: the person is told, and still gets a reply).
"""

from __future__ import annotations

from mrrrme.backends import StartupError
from mrrrme.registry import Backends, BackendSpec
from services.dialogue.llm import ChatClient, GroqClient, OpenAiCompatibleClient
from services.dialogue.settings import DialogueSettings


def composer_only(settings: DialogueSettings) -> None:
    """No model: the composer (services/dialogue/composer.py) writes every reply."""
    return None


def groq(settings: DialogueSettings) -> GroqClient | None:
    if not settings.api_key:
        return None
    return GroqClient(settings.base_url, settings.api_key, settings.model, settings.timeout_s, settings.retries)


def openai_compatible(settings: DialogueSettings) -> OpenAiCompatibleClient:
    if not settings.base_url:
        raise StartupError(
            "MRRRME_DIALOGUE_BACKEND=openai needs MRRRME_DIALOGUE_BASE_URL (e.g. http://localhost:11434/v1)"
        )
    return OpenAiCompatibleClient(
        settings.base_url, settings.api_key, settings.model, settings.timeout_s, settings.retries
    )


BACKENDS: Backends[ChatClient | None] = Backends(
    "dialogue",
    BackendSpec(
        "lite",
        "services.dialogue.backends:composer_only",
        "the offline composer: persona-, style- and emotion-aware replies in seven languages, no LLM",
        profiles=("lite",),
    ),
    BackendSpec(
        "groq",
        "services.dialogue.backends:groq",
        "Groq's API (llama-3.1-8b-instant by default) through the groq SDK, streaming; needs GROQ_API_KEY",
        profiles=("full",),
    ),
    BackendSpec(
        "openai",
        "services.dialogue.backends:openai_compatible",
        "any OpenAI-compatible server (vLLM, Ollama, llama.cpp) at MRRRME_DIALOGUE_BASE_URL, streaming",
    ),
)
