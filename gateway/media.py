"""Cheap structural checks of media at the edge, so that garbage is refused before it enters the mesh.

The gateway does not decode images (the face service does); it walks the JPEG marker segments, which
costs microseconds and catches non-JPEG data, truncation and corrupt headers, and reads the frame size
(mrrrme/jpeg.py, shared with the face service), refusing a header that claims too many pixels.
"""

from __future__ import annotations

import base64
import binascii

from gateway.protocol import ProtocolError
from mrrrme.jpeg import DEFAULT_MAX_PIXELS, JpegError, TooManyPixels, check_pixels, read_header

JPEG_DATA_URL = "data:image/jpeg;base64,"


def decode_base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("invalid_base64", f"{what} is not valid base64") from None


def decode_data_url(url: str) -> bytes:
    if not url.startswith(JPEG_DATA_URL):
        raise ProtocolError("invalid_frame", f"frame must be a data URL starting with {JPEG_DATA_URL!r}")
    return decode_base64(url[len(JPEG_DATA_URL) :], "frame")


def inspect_jpeg(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Width and height of a baseline or progressive JPEG; ProtocolError('corrupt_jpeg') for a broken one,
    ProtocolError('image_too_large') for one whose header claims more than `max_pixels` (never decoded)."""
    try:
        header = check_pixels(read_header(data), max_pixels)
    except TooManyPixels as exc:
        raise ProtocolError("image_too_large", exc.reason) from None
    except JpegError as exc:
        raise ProtocolError("corrupt_jpeg", f"frame is not a valid JPEG: {exc.reason}") from None
    return header.width, header.height


def check_pcm16(data: bytes) -> bytes:
    if len(data) % 2:
        raise ProtocolError("invalid_audio", "audio must be PCM16: an even number of bytes")
    return data
