"""Serve the gateway with the WebSocket limits of DESIGN.md section 7."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.settings import GatewaySettings
from mrrrme.logs import configure_logging


def server_config(settings: GatewaySettings) -> uvicorn.Config:
    """The uvicorn configuration, shared by `python -m gateway` and the tests."""
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ws="websockets-sansio",
        ws_max_size=settings.max_ws_message_bytes,  # larger messages: close 1009 at the protocol level
        ws_per_message_deflate=False,  # compression off: no zip bombs, no CRIME-style leaks
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        h11_max_incomplete_event_size=16 * 1024,  # oversized request lines and headers are refused
        server_header=False,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=5,
    )


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level)
    uvicorn.Server(server_config(settings)).run()


if __name__ == "__main__":
    main()
