"""What the seed's own client (the student project's Next.js page) reads in `llm_response`, added to ours.

The seed's client animates an ARKit-rigged avatar (Avaturn / Ready Player Me) from
`visemes: [{"t": seconds, "blend": {"jawOpen": 0.5, ...}}]` and plays `audio_url`. Our track is the
Oculus 15 visemes (`{"t", "viseme", "weight"}`, services/tts/visemes.py). Each entry gets a `blend`
beside its own fields, so one list serves both clients (ours ignores `blend`, the seed's ignores
`viseme`): no second copy of the track, no client-specific mode.

Every `blend` names the same keys (zeros included): a client that only sets the keys it is given would
otherwise keep the previous shape's lip pucker through the next open vowel.
"""

from __future__ import annotations

import base64

from gateway.reply_audio import ReplyAudioStore
from gateway.server_events import LlmResponse

# ARKit blendshape names (Apple ARFaceAnchor.BlendShapeLocation; the Avaturn / Ready Player Me morph names).
BLENDSHAPES = (
    "jawOpen",
    "mouthClose",
    "mouthFunnel",
    "mouthPucker",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "tongueOut",
)


def _both(side: str, value: float) -> dict[str, float]:
    return {f"{side}Left": value, f"{side}Right": value}


VISEME_BLEND: dict[str, dict[str, float]] = {
    "sil": {},
    # Lips pressed together (p, b, m): jaw nearly shut, lips pressed and slightly rolled in.
    "PP": {
        "jawOpen": 0.05,
        "mouthClose": 0.05,
        **_both("mouthPress", 0.6),
        "mouthRollLower": 0.3,
        "mouthRollUpper": 0.2,
    },
    # Lower lip under the upper teeth (f, v).
    "FF": {"jawOpen": 0.1, "mouthRollLower": 0.6, **_both("mouthUpperUp", 0.25)},
    # Tongue between the teeth (th).
    "TH": {"jawOpen": 0.2, "tongueOut": 0.4, **_both("mouthStretch", 0.1)},
    "DD": {"jawOpen": 0.25, **_both("mouthStretch", 0.2), **_both("mouthUpperUp", 0.1)},
    "kk": {"jawOpen": 0.3, **_both("mouthStretch", 0.25)},
    # Rounded, protruded lips (sh, ch).
    "CH": {"jawOpen": 0.2, "mouthFunnel": 0.5, "mouthPucker": 0.3, **_both("mouthUpperUp", 0.15)},
    # Teeth together, lips spread (s, z).
    "SS": {"jawOpen": 0.08, **_both("mouthStretch", 0.4), **_both("mouthSmile", 0.2)},
    "nn": {"jawOpen": 0.2, **_both("mouthStretch", 0.15)},
    "RR": {"jawOpen": 0.2, "mouthFunnel": 0.3, "mouthPucker": 0.3},
    # Open vowels: the jaw carries them.
    "aa": {"jawOpen": 0.7, **_both("mouthLowerDown", 0.3)},
    "E": {"jawOpen": 0.4, **_both("mouthStretch", 0.3), **_both("mouthSmile", 0.25)},
    "I": {"jawOpen": 0.25, **_both("mouthSmile", 0.5), **_both("mouthStretch", 0.3)},
    "O": {"jawOpen": 0.5, "mouthFunnel": 0.7, "mouthPucker": 0.2},
    "U": {"jawOpen": 0.2, "mouthPucker": 0.8, "mouthFunnel": 0.4},
}


def blend(viseme: str, weight: float = 1.0) -> dict[str, float]:
    """ARKit weights in [0, 1] for one Oculus viseme at `weight`; every name in BLENDSHAPES, zeros included."""
    shape = VISEME_BLEND.get(viseme, {})
    scale = min(max(weight, 0.0), 1.0)
    return {name: round(shape.get(name, 0.0) * scale, 3) for name in BLENDSHAPES}


def extend(event: LlmResponse, store: ReplyAudioStore, session_id: str) -> None:
    """Add the seed's fields to one of our reply sentences: `blend` on every viseme, and `audio_url`
    (null when the store keeps no more: the inline `audio` is still there)."""
    for entry in event.visemes:
        entry.blend = blend(entry.viseme, entry.weight)
    event.audio_url = store.put(session_id, base64.b64decode(event.audio)) if store.enabled else None
