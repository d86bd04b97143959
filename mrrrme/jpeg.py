"""Read a JPEG's frame header (SOF) without decoding it: structure, width, height, pixel count.

Shared by the gateway (refuse at the edge) and the face service (refuse before `cv2.imdecode`): a
decoder allocates width x height x 3 bytes from what the header claims, so a 300-byte file whose SOF
says 30000 x 30000 would cost ~2.7 GB. Walking the marker segments costs microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_PIXELS = 4_000_000
"""About 2560 x 1600: far above what clients send (320x240 to 640x480), far below what hurts."""

_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_SOS = 0xDA


class JpegError(ValueError):
    """The bytes are not a usable JPEG; `reason` says why in words a client can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooManyPixels(JpegError):
    def __init__(self, width: int, height: int, max_pixels: int) -> None:
        super().__init__(f"the frame header claims {width}x{height} pixels; at most {max_pixels} are accepted")
        self.width = width
        self.height = height


@dataclass(frozen=True, slots=True)
class JpegHeader:
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def read_header(data: bytes, require_end: bool = True) -> JpegHeader:
    """The frame header of a baseline or progressive JPEG, or JpegError (truncated, corrupt, no frame)."""
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        raise JpegError("missing start-of-image marker")
    if require_end and data[-2:] != b"\xff\xd9":
        raise JpegError("missing end-of-image marker (truncated?)")
    pos = 2
    header: JpegHeader | None = None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise JpegError(f"expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            raise JpegError(f"segment at byte {pos} runs past the end")
        if marker in _SOF_MARKERS and header is None:
            if length < 8:
                raise JpegError("frame header too short")
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            if width == 0 or height == 0:
                # Height 0 means "defined later by a DNL marker": legal, but no client sends it and a
                # decoder would have to guess the allocation; refused like a corrupt header.
                raise JpegError("zero width or height")
            header = JpegHeader(width, height)
        if marker == _SOS:  # entropy-coded data follows up to EOI
            if header is None:
                raise JpegError("scan before frame header")
            return header
        pos += 2 + length
    raise JpegError("no image data")


def check_pixels(header: JpegHeader, max_pixels: int) -> JpegHeader:
    if header.pixels > max_pixels:
        raise TooManyPixels(header.width, header.height, max_pixels)
    return header
