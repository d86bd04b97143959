from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from mrrrme.settings import ServiceSettings


class DialogueSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MRRRME_DIALOGUE_", extra="ignore", populate_by_name=True)

    backend: str | None = Field(
        None,
        description="lite (composer, no LLM), groq, or openai (any OpenAI-compatible server); default: "
        "groq in the full profile, lite otherwise",
    )
    model: str = Field("llama-3.1-8b-instant", description="LLM model name")
    base_url: str = Field(
        "",
        description="API root. groq: empty for Groq's own (or GROQ_BASE_URL, as the groq SDK reads it); "
        "openai: required, the server's /v1 root, e.g. http://localhost:11434/v1 for Ollama",
    )
    api_key: str = Field(
        "", validation_alias=AliasChoices("MRRRME_DIALOGUE_API_KEY", "GROQ_API_KEY"), description="API key"
    )
    timeout_s: float = Field(8.0, description="Per-request timeout of the LLM API")
    retries: int = Field(2, description="Retries of a failed LLM request before the fallback reply")
    history_turns: int = Field(20, description="Past turns of the conversation given to the model")
    max_input_chars: int = Field(2000, description="Longer user text is cut before it reaches the model")
    ack_wait_s: float = Field(
        6.0,
        description="A turn whose worker went silent this long is redelivered (a crashed worker; a working one "
        "marks its turn in progress every third of this)",
    )
