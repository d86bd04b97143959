"""Gateway settings: `MRRRME_GATEWAY_*` plus the mesh-wide ones (NATS_URL, REDIS_URL, ...)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mrrrme.jpeg import DEFAULT_MAX_PIXELS
from mrrrme.settings import MeshSettings

KIB = 1024


class GatewaySettings(MeshSettings):
    model_config = MeshSettings.model_config | {"env_prefix": "MRRRME_GATEWAY_"}

    host: str = Field("127.0.0.1", description="Interface the gateway listens on")
    port: int = Field(7860, description="HTTP and WebSocket port")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to open /ws (JSON list); empty: http://localhost:<port> and http://127.0.0.1:<port>",
    )
    migrate_on_start: bool = Field(True, description="Apply database migrations at start (off when a job does it)")
    cookie_secure: bool = Field(
        False, description="Always mark the login cookie Secure (it is anyway when the request came over HTTPS)"
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (JSON list) whose X-Forwarded-Proto/-For headers are believed; empty: none",
    )
    login_idle_timeout_s: float = Field(1800.0, description="A login unused this long ends (an open socket uses it)")
    login_lifetime_s: float = Field(86400.0, description="A login ends this long after it began, used or not")
    token_recheck_s: float = Field(60.0, description="How often an open socket re-checks its login")
    login_per_ip_per_min: int = Field(30, description="Login and sign-up attempts per address per minute")
    login_failures_per_hour: int = Field(100, description="Failed logins per account per hour before 429")
    login_free_failures: int = Field(5, description="Failed logins before each further attempt must wait (doubling)")
    auth_deadline_s: float = Field(5.0, description="Seconds a new socket has to authenticate")
    idle_timeout_s: float = Field(60.0, description="Close a socket that sends no message for this long")
    max_ws_message_bytes: int = Field(512 * KIB, description="Protocol-level WebSocket message limit (close 1009)")
    max_control_bytes: int = Field(64 * KIB, description="Largest JSON control message")
    max_frame_bytes: int = Field(256 * KIB, description="Largest JPEG frame")
    max_audio_chunk_bytes: int = Field(32 * KIB, description="Largest PCM16 audio chunk")
    video_fps_limit: float = Field(15.0, description="Frames per second a socket may send")
    audio_chunks_per_s_limit: float = Field(50.0, description="Audio chunks per second a socket may send")
    audio_burst_s: float = Field(
        4.0,
        ge=1.0,
        description="Seconds of the audio allowance a socket may save up and spend at once: when this gateway's "
        "loop stalls on a busy machine, an honest client's chunks arrive together afterwards and must not be "
        "dropped as a flood",
    )
    max_encoded_audio_chunk_bytes: int = Field(
        32 * KIB,
        description="Largest WebM/Ogg Opus audio chunk (the seed's MediaRecorder client); max_audio_chunk_bytes "
        "bounds it too",
    )
    encoded_audio_bytes_per_s_limit: float = Field(
        64.0 * KIB, description="WebM/Ogg Opus bytes per second a socket may send (bursts of twice that)"
    )
    encoded_audio_seconds_per_s_limit: float = Field(
        1.5, description="Seconds of audio a WebM/Ogg recording may decode to per second (bursts of five times that)"
    )
    reply_audio_ttl_s: float = Field(
        120.0, description="How long a reply sentence's audio stays fetchable at its audio_url (0: no audio_url)"
    )
    reply_audio_max_bytes: int = Field(
        64 * 1024 * KIB, description="Memory for fetchable reply audio, all sessions together (oldest dropped first)"
    )
    reply_audio_per_session: int = Field(16, description="Reply sentences per session whose audio_url stays fetchable")
    control_per_s_limit: float = Field(10.0, description="Control messages per second a socket may send")
    outbound_queue: int = Field(32, description="Events queued for a slow client before dropping or closing")
    outbound_queue_bytes: int = Field(1024 * KIB, description="Bytes queued for a slow client before dropping/closing")
    max_sockets_per_user: int = Field(3, description="Open sockets per account (per replica); a further one is refused")
    ws_handshakes_per_ip_per_min: int = Field(10, description="WebSocket handshakes per address per minute (HTTP 429)")
    max_frame_pixels: int = Field(DEFAULT_MAX_PIXELS, description="Largest width x height a JPEG header may claim")
    max_request_line_bytes: int = Field(8 * KIB, description="Longest HTTP request line (HTTP 431)")
    max_header_bytes: int = Field(8 * KIB, description="Longest single HTTP header line (HTTP 431)")
    max_header_count: int = Field(128, description="Most HTTP headers in one request (HTTP 431)")
    max_request_head_bytes: int = Field(64 * KIB, description="Largest HTTP request head, line and headers (HTTP 431)")
    request_head_timeout_s: float = Field(10.0, description="A connection must send a whole request head this soon")
    keep_alive_timeout_s: int = Field(5, description="An idle keep-alive HTTP connection is closed after this")
    max_connections: int = Field(4096, description="Open HTTP and WebSocket connections before 503")
    vad_threshold: float = Field(0.5, description="Silero speech probability that starts speech")
    vad_min_silence_ms: int = Field(600, description="Silence that ends an utterance")
    vad_min_speech_ms: int = Field(250, description="Shorter speech is ignored (clicks, coughs)")
    vad_pad_ms: int = Field(200, description="Audio kept before speech onset and after its end")
    max_utterance_s: float = Field(30.0, description="An utterance is cut here to keep messages small")
    health_timeout_s: float = Field(0.4, description="How long /health collects service replies")
    end_of_turn: Literal["model", "silence"] = Field(
        "model",
        description="How an utterance ends: model (Smart Turn v3.2 asked after a short silence) or silence "
        "(vad_min_silence_ms of silence, whatever was said)",
    )
    turn_silence_ms: int = Field(200, description="Model rule: silence after which the turn model is first asked")
    turn_recheck_ms: int = Field(400, description="Model rule: ask again after this much more silence (0: once)")
    turn_max_silence_ms: int = Field(1600, description="Model rule: silence that ends an utterance in any case")
    turn_threshold: float = Field(0.9, description="Model rule: probability of 'turn complete' that ends it")
    speculative_asr: bool = Field(
        True,
        description="Start recognising when a silence reaches speculate_silence_ms, while the end of the turn "
        "is decided; the early transcript is used only if the utterance ends in that silence (off: recognise "
        "after the end, the cheapest on a loaded machine)",
    )
    speculate_silence_ms: int = Field(
        100,
        description="With speculative_asr: silence at which recognition starts early (before turn_silence_ms, "
        "since a 'complete' waits for those words); a pause the person talks through costs one unused recognition",
        ge=32,
    )
    turn_word_check: bool = Field(
        True,
        description="Model rule with speculative_asr: a turn the model calls complete ends only once the early "
        "transcript's words do not say the sentence goes on (a trailing '...', 'and', 'the', 'to': "
        "gateway/turn_words.py)",
    )
    early_asr_timeout_s: float = Field(
        5.0, description="How long an early recognition may take before the utterance is recognised as usual"
    )

    def origins(self) -> set[str]:
        if self.allowed_origins:
            return {origin.rstrip("/") for origin in self.allowed_origins}
        return {f"http://localhost:{self.port}", f"http://127.0.0.1:{self.port}"}
