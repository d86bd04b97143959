"""Cheap structural checks of media at the edge, so that garbage is refused before it enters the mesh.

The gateway does not decode images (the face service does); it walks the JPEG marker segments, which
costs microseconds and catches non-JPEG data, truncation and corrupt headers, and reads the frame size.
"""

from __future__ import annotations

import base64
import binascii

from gateway.protocol import ProtocolError

JPEG_DATA_URL = "data:image/jpeg;base64,"
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def decode_base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("invalid_base64", f"{what} is not valid base64") from None


def decode_data_url(url: str) -> bytes:
    if not url.startswith(JPEG_DATA_URL):
        raise ProtocolError("invalid_frame", f"frame must be a data URL starting with {JPEG_DATA_URL!r}")
    return decode_base64(url[len(JPEG_DATA_URL) :], "frame")


def inspect_jpeg(data: bytes) -> tuple[int, int]:
    """Width and height of a baseline or progressive JPEG, or ProtocolError('corrupt_jpeg')."""

    def corrupt(reason: str) -> ProtocolError:
        return ProtocolError("corrupt_jpeg", f"frame is not a valid JPEG: {reason}")

    if len(data) < 4 or data[:2] != b"\xff\xd8":
        raise corrupt("missing start-of-image marker")
    if data[-2:] != b"\xff\xd9":
        raise corrupt("missing end-of-image marker (truncated?)")
    pos = 2
    size: tuple[int, int] | None = None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise corrupt(f"expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            raise corrupt(f"segment at byte {pos} runs past the end")
        if marker in _SOF_MARKERS:
            if length < 8:
                raise corrupt("frame header too short")
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            if width == 0 or height == 0:
                raise corrupt("zero width or height")
            size = (width, height)
        if marker == 0xDA:  # start of scan: entropy-coded data follows up to EOI
            if size is None:
                raise corrupt("scan before frame header")
            return size
        pos += 2 + length
    raise corrupt("no image data")


def check_pcm16(data: bytes) -> bytes:
    if len(data) % 2:
        raise ProtocolError("invalid_audio", "audio must be PCM16: an even number of bytes")
    return data
