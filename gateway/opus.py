"""Streaming decode of a browser recording (WebM/Opus or Ogg/Opus, as MediaRecorder writes it) to PCM16.

The seed's client sends `audio_chunk` with base64 of a MediaRecorder stream: the first chunk carries the
container header, the later ones continue the same stream, cut anywhere. Our own clients send PCM16.
`Recording` tells them apart by the header (never by guessing at PCM), keeps one session's decoder
state, and turns each chunk into 16 kHz mono PCM16 for the same VAD path as native audio.

Why our own demuxer: PyAV's demuxers read from a file and treat "no more bytes yet" as the end of the
stream, so a live stream could only be decoded by re-reading it from the start for each chunk, or on a
thread per session. The two containers are simple enough to walk incrementally (only what MediaRecorder
and common muxers write: WebM with known or unknown sizes, Ogg pages); PyAV decodes the Opus packets.

Every packet's duration is read from its TOC byte (RFC 6716, 3.1) before it is decoded, so the decoded
audio per second is bounded before any CPU is spent on it (a few bytes of Opus can claim 120 ms).
Structural corruption raises `ProtocolError("corrupt_audio")` and the parser then resynchronises at the
next WebM Cluster or Ogg page, as it does for a stream joined mid-way (consent given while recording).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import av

from gateway.protocol import CLOSE_TOO_BIG, ProtocolError

if TYPE_CHECKING:
    from gateway.settings import GatewaySettings

Container = Literal["webm", "ogg"]
OUT_RATE = 16000
OPUS_RATE = 48000
SNIFF_BYTES = 64
"""Bytes looked at to recognise a container header (the EBML DocType, Ogg's OpusHead)."""
MAX_ELEMENT_BYTES = 256 * 1024
"""Largest WebM element we buffer whole (a block, the track list); MediaRecorder's are a few KiB."""
MAX_OGG_PACKET_BYTES = 256 * 1024

# Matroska element IDs (with their length marker bits, as they appear on the wire).
EBML = 0x1A45DFA3
DOCTYPE = 0x4282
SEGMENT = 0x18538067
TRACKS = 0x1654AE6B
TRACK_ENTRY = 0xAE
TRACK_NUMBER = 0xD7
CODEC_ID = 0x86
CODEC_PRIVATE = 0x63A2
CLUSTER = 0x1F43B675
SIMPLE_BLOCK = 0xA3
BLOCK_GROUP = 0xA0
BLOCK = 0xA1
DESCEND = frozenset({SEGMENT, CLUSTER})
"""Masters we step into instead of reading: the two a live recorder writes with unknown size."""
READ = frozenset({EBML, TRACKS, SIMPLE_BLOCK, BLOCK_GROUP})
SKIP = frozenset(
    {
        0x114D9B74,  # SeekHead
        0x1549A966,  # Info
        0x1C53BB6B,  # Cues
        0x1254C367,  # Tags
        0x1043A770,  # Chapters
        0x1941A469,  # Attachments
        0xEC,  # Void
        0xBF,  # CRC-32
        0xE7,  # Cluster Timecode
        0xA7,  # Position
        0xAB,  # PrevSize
        0x5854,  # SilentTracks
    }
)
"""Everything else a WebM stream may hold at the levels we walk; any other ID means the bytes are not WebM."""
CLUSTER_MAGIC = CLUSTER.to_bytes(4, "big")
OGG_PAGE = struct.Struct("<4sBBqIIIB")


def sniff(head: bytes) -> Container | None:
    """The container whose header `head` starts with, or None (PCM16 from our own clients).

    Strict on purpose: EBML magic *and* a webm/matroska DocType, or an Ogg page carrying OpusHead, so that
    no PCM chunk can be taken for a recording by chance."""
    if head.startswith(EBML.to_bytes(4, "big")) and (b"webm" in head or b"matroska" in head):
        return "webm"
    if head.startswith(b"OggS") and head[28:36] == b"OpusHead":
        return "ogg"
    return None


def opus_samples(packet: bytes) -> int:
    """Samples at 48 kHz that an Opus packet decodes to, from its TOC byte; 0 for a malformed packet."""
    if not packet:
        return 0
    toc = packet[0]
    config = toc >> 3
    if config < 12:
        frame = (480, 960, 1920, 2880)[config % 4]
    elif config < 16:
        frame = (480, 960)[config % 2]
    else:
        frame = (120, 240, 480, 960)[config % 4]
    code = toc & 3
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    elif len(packet) < 2:
        return 0
    else:
        count = packet[1] & 0x3F
    total = frame * count
    return total if 0 < total <= 5760 else 0  # at most 120 ms per packet (RFC 6716)


class CorruptAudio(Exception):
    """The bytes are not the container they claimed to be (the parser resynchronises after it)."""


def _vint(data: bytes | bytearray, pos: int, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at `pos`: (value, length), None if incomplete; -1 for unknown size."""
    if pos >= len(data):
        return None
    first = data[pos]
    if first == 0:
        raise CorruptAudio("invalid EBML length")
    length = 9 - first.bit_length()
    if pos + length > len(data):
        return None
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return -1, length
    return value, length


def _elements(payload: bytes) -> Iterator[tuple[int, bytes]]:
    """The child elements of a master read whole (EBML header, Tracks, TrackEntry, BlockGroup)."""
    pos = 0
    while pos < len(payload):
        ident = _vint(payload, pos, keep_marker=True)
        size = _vint(payload, pos + ident[1], keep_marker=False) if ident else None
        if ident is None or size is None or size[0] < 0:
            raise CorruptAudio("truncated element")
        start = pos + ident[1] + size[1]
        if start + size[0] > len(payload):
            raise CorruptAudio("element overruns its parent")
        yield ident[0], payload[start : start + size[0]]
        pos = start + size[0]


def _laced_frames(flags: int, body: bytes) -> list[bytes]:
    """The frames of a (Simple)Block body after its 4-byte header; MediaRecorder never laces, muxers may."""
    lacing = (flags >> 1) & 3
    if lacing == 0:
        return [body]
    if not body:
        raise CorruptAudio("laced block without frames")
    count, pos, sizes = body[0] + 1, 1, []
    if lacing == 1:  # Xiph: each size as a run of 255s and a final byte
        for _ in range(count - 1):
            size = 0
            while True:
                if pos >= len(body):
                    raise CorruptAudio("truncated lacing")
                size += body[pos]
                pos += 1
                if body[pos - 1] != 255:
                    break
            sizes.append(size)
    elif lacing == 3:  # EBML: the first size, then signed differences
        first = _vint(body, pos, keep_marker=False)
        if first is None or first[0] < 0:
            raise CorruptAudio("truncated lacing")
        sizes.append(first[0])
        pos += first[1]
        for _ in range(count - 2):
            delta = _vint(body, pos, keep_marker=False)
            if delta is None or delta[0] < 0:
                raise CorruptAudio("truncated lacing")
            sizes.append(sizes[-1] + delta[0] - ((1 << (7 * delta[1] - 1)) - 1))
            pos += delta[1]
    else:  # fixed: equal sizes
        if (len(body) - 1) % count:
            raise CorruptAudio("fixed lacing does not divide the block")
        return [body[1 + i * ((len(body) - 1) // count) :][: (len(body) - 1) // count] for i in range(count)]
    frames = []
    for size in sizes:
        if size < 0 or pos + size > len(body):
            raise CorruptAudio("lace overruns the block")
        frames.append(body[pos : pos + size])
        pos += size
    frames.append(body[pos:])
    return frames


class WebmDemuxer:
    """Opus packets out of a WebM byte stream fed in arbitrary pieces."""

    def __init__(self, synced: bool = True) -> None:
        self._buffer = bytearray()
        self._skip = 0
        self._synced = synced
        """False: joined mid-stream or after corruption; bytes are dropped up to the next Cluster."""
        self.opus_head: bytes | None = None
        self.track: int | None = None

    def lose_sync(self) -> None:
        self._buffer.clear()
        self._skip = 0
        self._synced = False

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        packets: list[bytes] = []
        while True:
            if self._skip:
                taken = min(self._skip, len(self._buffer))
                del self._buffer[:taken]
                self._skip -= taken
                if self._skip:
                    return packets
            if not self._synced:
                at = self._buffer.find(CLUSTER_MAGIC)
                if at < 0:
                    del self._buffer[: max(0, len(self._buffer) - 3)]  # the magic may straddle two chunks
                    return packets
                del self._buffer[:at]
                self._synced = True
            try:
                if not self._step(packets):
                    return packets
            except CorruptAudio:
                self._synced = False
                self._skip = 0
                del self._buffer[:1]  # past the bad byte, then look for the next Cluster
                raise

    def _step(self, packets: list[bytes]) -> bool:
        """Handle one element header (and its payload where we need it); False when more bytes are needed."""
        ident = _vint(self._buffer, 0, keep_marker=True)
        if ident is None:
            return False
        size = _vint(self._buffer, ident[1], keep_marker=False)
        if size is None:
            return False
        element, header = ident[0], ident[1] + size[1]
        if element in DESCEND:
            del self._buffer[:header]
            return True
        if element not in READ and element not in SKIP:
            raise CorruptAudio(f"unexpected element 0x{element:X}")
        if size[0] < 0:
            raise CorruptAudio("unknown size on an element that must have one")
        if element in SKIP:
            del self._buffer[:header]
            self._skip = size[0]
            return True
        if size[0] > MAX_ELEMENT_BYTES:
            raise CorruptAudio("element too large for an audio stream")
        if len(self._buffer) < header + size[0]:
            return False
        payload = bytes(self._buffer[header : header + size[0]])
        del self._buffer[: header + size[0]]
        if element == EBML:
            doctype = dict(_elements(payload)).get(DOCTYPE, b"")
            if doctype not in (b"webm", b"matroska"):
                raise CorruptAudio("not a WebM stream")
        elif element == TRACKS:
            self._tracks(payload)
        elif element == SIMPLE_BLOCK:
            packets.extend(self._block(payload))
        else:  # BlockGroup: its Block, with the same layout as a SimpleBlock
            for child, body in _elements(payload):
                if child == BLOCK:
                    packets.extend(self._block(body))
        return True

    def _tracks(self, payload: bytes) -> None:
        for child, entry in _elements(payload):
            if child != TRACK_ENTRY:
                continue
            fields = dict(_elements(entry))
            if fields.get(CODEC_ID) == b"A_OPUS":
                self.track = int.from_bytes(fields.get(TRACK_NUMBER, b"\x01"), "big")
                self.opus_head = fields.get(CODEC_PRIVATE)
                return
        raise CorruptAudio("the recording has no Opus track (use audio/webm;codecs=opus)")

    def _block(self, payload: bytes) -> list[bytes]:
        track = _vint(payload, 0, keep_marker=False)
        if track is None or track[0] < 0 or len(payload) < track[1] + 3:
            raise CorruptAudio("truncated block")
        if self.track is None:
            self.track = track[0]  # joined mid-stream: the first track we see (a recorder writes one)
        if track[0] != self.track:
            return []  # another track (video, when recorded together): not ours
        return _laced_frames(payload[track[1] + 2], payload[track[1] + 3 :])


class OggDemuxer:
    """Opus packets out of an Ogg byte stream fed in arbitrary pieces (the first Opus logical stream)."""

    def __init__(self, synced: bool = True) -> None:
        self._buffer = bytearray()
        self._synced = synced
        self._packet = bytearray()
        self._serial: int | None = None
        self.opus_head: bytes | None = None

    def lose_sync(self) -> None:
        self._buffer.clear()
        self._packet.clear()
        self._synced = False

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        packets: list[bytes] = []
        while True:
            if not self._synced:
                at = self._buffer.find(b"OggS")
                if at < 0:
                    del self._buffer[: max(0, len(self._buffer) - 3)]
                    return packets
                del self._buffer[:at]
                self._synced = True
                self._packet.clear()
            if len(self._buffer) < OGG_PAGE.size:
                return packets
            magic, version, _flags, _granule, serial, _seq, _crc, count = OGG_PAGE.unpack_from(self._buffer)
            if magic != b"OggS" or version != 0:
                self._synced = False
                del self._buffer[:1]
                raise CorruptAudio("not an Ogg page")
            if len(self._buffer) < OGG_PAGE.size + count:
                return packets
            lacing = self._buffer[OGG_PAGE.size : OGG_PAGE.size + count]
            end = OGG_PAGE.size + count + sum(lacing)
            if len(self._buffer) < end:
                return packets
            pos = OGG_PAGE.size + count
            page = bytes(self._buffer[pos:end])
            del self._buffer[:end]
            if self._serial is None:
                self._serial = serial
            if serial != self._serial:
                continue
            pos = 0
            for size in lacing:
                self._packet += page[pos : pos + size]
                pos += size
                if len(self._packet) > MAX_OGG_PACKET_BYTES:
                    self._synced = False
                    raise CorruptAudio("Ogg packet too large for an audio stream")
                if size < 255:
                    packet, self._packet = bytes(self._packet), bytearray()
                    if packet.startswith(b"OpusHead"):
                        self.opus_head = packet
                    elif not packet.startswith(b"OpusTags"):
                        packets.append(packet)


@dataclass
class Budget:
    """A token bucket that charges by amount (bytes, seconds of audio), not per message."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, amount: float, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if amount > self.tokens:
            return False
        self.tokens -= amount
        return True


@dataclass(frozen=True)
class RecordingLimits:
    max_chunk_bytes: int
    bytes_per_s: float
    seconds_per_s: float

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> RecordingLimits:
        return cls(
            max_chunk_bytes=settings.max_encoded_audio_chunk_bytes,
            bytes_per_s=settings.encoded_audio_bytes_per_s_limit,
            seconds_per_s=settings.encoded_audio_seconds_per_s_limit,
        )


class Recording:
    """One socket's encoded-audio stream: container detection, demuxer, Opus decoder, resampler, limits."""

    def __init__(self, limits: RecordingLimits) -> None:
        self.limits = limits
        self.container: Container | None = None
        """Set by the first header seen: from then on every audio chunk of the socket is this container."""
        self._demuxer: WebmDemuxer | OggDemuxer | None = None
        self._decoder: av.AudioCodecContext | None = None
        self._resampler: av.AudioResampler | None = None
        # Bursts of two seconds' worth: MediaRecorder's timeslices arrive in real time, but a slow network
        # may bunch a few together.
        self._bytes = Budget(limits.bytes_per_s, limits.bytes_per_s * 2)
        self._seconds = Budget(limits.seconds_per_s, limits.seconds_per_s * 5)
        self._dropped_s = 0.0

    def claims(self, data: bytes) -> bool:
        """Whether a chunk belongs to a recording (False: PCM16 from our own clients); a chunk that starts
        one resets the decoder. A recording's chunks are bounded here, before anything decodes them."""
        started = sniff(data[:SNIFF_BYTES])
        if started is None and self.container is None:
            return False
        if len(data) > self.limits.max_chunk_bytes:
            raise ProtocolError(
                "too_big", f"encoded audio chunk exceeds {self.limits.max_chunk_bytes} bytes", CLOSE_TOO_BIG
            )
        if started is not None:
            self.reset()  # a new recording (MediaRecorder restarted): a fresh decoder
            self.container = started
            self._new_demuxer(synced=True)
        if not self._bytes.take(len(data)):
            if self._demuxer is not None:
                self._demuxer.lose_sync()  # a dropped chunk breaks the stream: resynchronise after it
            raise ProtocolError(
                "rate_limited", f"encoded audio over {self.limits.bytes_per_s:g} bytes/s: chunk dropped"
            )
        return True

    def decode(self, data: bytes) -> bytes:
        """16 kHz mono PCM16 for the bytes of one chunk (possibly empty: a chunk may end mid-packet)."""
        demuxer = self._demuxer or self._new_demuxer(synced=False)
        try:
            packets = demuxer.feed(data)
        except CorruptAudio as exc:
            raise ProtocolError("corrupt_audio", f"audio chunk is not valid {self.container}/Opus: {exc}") from None
        pcm = [self._decode_packet(packet) for packet in packets]
        dropped, self._dropped_s = self._dropped_s, 0.0
        if dropped:
            raise ProtocolError(
                "rate_limited",
                f"recording decodes to more than {self.limits.seconds_per_s:g} s of audio a second: "
                f"{dropped:.2f} s dropped",
            )
        return b"".join(pcm)

    def reset(self) -> None:
        """Forget the stream (consent withdrawn, a new recording): the next chunk must resynchronise."""
        self._demuxer = None
        self._decoder = None
        self._resampler = None

    def _new_demuxer(self, synced: bool) -> WebmDemuxer | OggDemuxer:
        self._demuxer = WebmDemuxer(synced) if self.container == "webm" else OggDemuxer(synced)
        return self._demuxer

    def _decode_packet(self, packet: bytes) -> bytes:
        samples = opus_samples(packet)
        if samples == 0:
            return b""  # not an Opus packet (or an empty one): nothing to decode
        if not self._seconds.take(samples / OPUS_RATE):
            self._dropped_s += samples / OPUS_RATE
            return b""
        if self._decoder is None:
            self._decoder = self._open_decoder()
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=OUT_RATE)
        try:
            frames = self._decoder.decode(av.Packet(packet))
        except av.FFmpegError:
            return b""  # one damaged packet: Opus conceals it, the stream goes on
        assert self._resampler is not None
        out = [
            resampled.to_ndarray().astype("<i2", copy=False).tobytes()
            for frame in frames
            for resampled in self._resampler.resample(frame)
        ]
        return b"".join(out)

    def _open_decoder(self) -> av.AudioCodecContext:
        decoder = av.CodecContext.create("opus", "r")
        assert isinstance(decoder, av.AudioCodecContext)
        decoder.sample_rate = OPUS_RATE
        head = self._demuxer.opus_head if self._demuxer is not None else None
        if head and head.startswith(b"OpusHead") and len(head) >= 19:
            decoder.extradata = head
            decoder.layout = "mono" if head[9] == 1 else "stereo"
        else:
            decoder.layout = "stereo"  # joined mid-stream: stereo decodes mono packets too
        decoder.open()
        return decoder
