"""Small 3D avatars for the browser tests, written here byte by byte: a GLB is a 12-byte header, a JSON chunk
(the glTF) and a binary chunk (vertices, indices, morph target deltas, a PNG texture). The head is a low-poly
sphere whose morph targets move its mouth, lids and cheeks, so a rendered frame changes when they do.
A VRM is the same GLB with the VRMC_vrm extension: humanoid bones and expression presets bound to the
morph targets."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

RADIUS = 0.1
Delta = Callable[[np.ndarray], np.ndarray]


def _sphere(rings: int = 20, segments: int = 28) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions, normals, UVs and triangle indices of a UV sphere facing +Z (glTF's front)."""
    lat = np.linspace(0, np.pi, rings + 1)
    lon = np.linspace(-np.pi, np.pi, segments + 1)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    normals = np.stack([np.sin(la) * np.sin(lo), np.cos(la), np.sin(la) * np.cos(lo)], axis=-1).reshape(-1, 3)
    uvs = np.stack([(lo + np.pi) / (2 * np.pi), la / np.pi], axis=-1).reshape(-1, 2)
    faces = []
    for r in range(rings):
        for s in range(segments):
            a, b = r * (segments + 1) + s, (r + 1) * (segments + 1) + s
            faces += [(a, b, a + 1), (a + 1, b, b + 1)]
    return (
        (normals * RADIUS).astype(np.float32),
        normals.astype(np.float32),
        uvs.astype(np.float32),
        np.array(faces, np.uint16),
    )


def _near(p: np.ndarray, x: float, y: float, width: float = 0.03) -> np.ndarray:
    """A smooth 0-1 weight for front vertices around (x, y) on the face."""
    d2 = (p[:, 0] - x) ** 2 + (p[:, 1] - y) ** 2
    return np.exp(-d2 / (2 * width**2)) * (p[:, 2] > 0.03)


def _shift(region: Callable[[np.ndarray], np.ndarray], dx: float = 0, dy: float = 0, dz: float = 0) -> Delta:
    return lambda p: region(p)[:, None] * np.array([dx, dy, dz], np.float32)


LEG = ("UpperLeg", "LowerLeg", "Foot")
ARM = ("UpperArm", "LowerArm", "Hand")
MOUTH_Y = -0.045
# What each named morph target does to the head (the mouth sits low on the front, the eyes above).
SHAPES: dict[str, Delta] = {
    "open": _shift(lambda p: _near(p, 0, MOUTH_Y - 0.012, 0.025), dy=-0.035),
    "funnel": lambda p: (
        _near(p, 0, MOUTH_Y, 0.03)[:, None] * np.stack([-p[:, 0] * 0.5, 0 * p[:, 1], 0.012 + 0 * p[:, 2]], -1)
    ),
    "pucker": lambda p: (
        _near(p, 0, MOUTH_Y, 0.03)[:, None] * np.stack([-p[:, 0] * 0.7, 0 * p[:, 1], 0.022 + 0 * p[:, 2]], -1)
    ),
    "press": _shift(lambda p: _near(p, 0, MOUTH_Y - 0.01, 0.02), dy=0.01, dz=-0.004),
    "smileLeft": _shift(lambda p: _near(p, 0.03, MOUTH_Y, 0.015), dx=0.01, dy=0.015),
    "smileRight": _shift(lambda p: _near(p, -0.03, MOUTH_Y, 0.015), dx=-0.01, dy=0.015),
    "blinkLeft": _shift(lambda p: _near(p, 0.035, 0.03, 0.012), dy=-0.012),
    "blinkRight": _shift(lambda p: _near(p, -0.035, 0.03, 0.012), dy=-0.012),
    "brows": _shift(lambda p: _near(p, 0, 0.055, 0.03), dy=0.01),
    "small": _shift(lambda p: _near(p, 0, MOUTH_Y, 0.03), dz=0.004),
}


def shape_for(name: str) -> Delta:
    """The movement for a morph target name (ARKit, Oculus or VRM style); anything else moves the lips a little."""
    low = name.lower()
    table = [
        (("jawopen", "viseme_aa", "a"), "open"),
        (("mouthfunnel", "viseme_o", "o"), "funnel"),
        (("mouthpucker", "viseme_u", "u"), "pucker"),
        (("viseme_pp", "mouthpressleft", "mouthpressright"), "press"),
        (("mouthsmileleft", "joy"), "smileLeft"),
        (("mouthsmileright",), "smileRight"),
        (("eyeblinkleft", "blink"), "blinkLeft"),
        (("eyeblinkright",), "blinkRight"),
        (("browinnerup", "sorrow"), "brows"),
    ]
    for names, shape in table:
        if low in names:
            return SHAPES[shape]
    return SHAPES["small"]


def png(width: int = 8, height: int = 8) -> bytes:
    """A small skin-coloured texture with a darker band where the mouth is (v grows downward)."""
    rows = []
    for y in range(height):
        color = (200, 90, 90) if y == round(height * 0.62) else (232, 190, 160)
        rows.append(b"\0" + bytes(color) * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


class _Buffer:
    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def view(self, blob: bytes, target: int | None = None) -> int:
        while len(self.data) % 4:
            self.data += b"\0"
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(blob)}
        if target:
            view["target"] = target
        self.data += blob
        self.views.append(view)
        return len(self.views) - 1

    def accessor(self, array: np.ndarray, kind: str, target: int | None = None, bounds: bool = False) -> int:
        component = {np.dtype(np.float32): 5126, np.dtype(np.uint16): 5123}[array.dtype]
        accessor: dict[str, Any] = {
            "bufferView": self.view(array.tobytes(), target),
            "componentType": component,
            "count": len(array) if kind != "SCALAR" else array.size,
            "type": kind,
        }
        if bounds:
            accessor["min"] = array.min(axis=0).tolist()
            accessor["max"] = array.max(axis=0).tolist()
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def glb(
    morph_names: Sequence[str],
    *,
    bones: bool = False,
    vrm_expressions: dict[str, str] | None = None,
) -> bytes:
    """A GLB head with these morph targets. `bones` puts it under Hips > Spine > Head nodes (a Ready Player
    Me-like hierarchy); `vrm_expressions` (VRM preset -> morph target name) makes it a VRM 1.0."""
    positions, normals, uvs, faces = _sphere()
    buffer = _Buffer()
    attributes = {
        "POSITION": buffer.accessor(positions, "VEC3", 34962, bounds=True),
        "NORMAL": buffer.accessor(normals, "VEC3", 34962),
        "TEXCOORD_0": buffer.accessor(uvs, "VEC2", 34962),
    }
    indices = buffer.accessor(faces.reshape(-1), "SCALAR", 34963)
    targets = [
        {"POSITION": buffer.accessor(shape_for(name)(positions).astype(np.float32), "VEC3", 34962, bounds=True)}
        for name in morph_names
    ]
    image_view = buffer.view(png())
    primitive: dict[str, Any] = {"attributes": attributes, "indices": indices, "material": 0}
    if targets:
        primitive["targets"] = targets
    mesh: dict[str, Any] = {"name": "Head", "primitives": [primitive]}
    if morph_names:
        mesh["weights"] = [0.0] * len(morph_names)
        mesh["extras"] = {"targetNames": list(morph_names)}
    gltf: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "mrrrme tests/gltf.py"},
        "scene": 0,
        "meshes": [mesh],
        "materials": [
            {"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicFactor": 0, "roughnessFactor": 0.8}}
        ],
        "textures": [{"source": 0, "sampler": 0}],
        "samplers": [{"magFilter": 9728, "minFilter": 9728}],
        "images": [{"bufferView": image_view, "mimeType": "image/png"}],
    }
    bones_by_name = {"hips": 0, "spine": 1, "head": 2}
    if bones or vrm_expressions is not None:
        # Hips (1.0 m up) > Spine > Head (0.6 m above) > the face mesh; and the limbs a VRM must have.
        nodes: list[dict[str, Any]] = [
            {"name": "Hips", "translation": [0, 1.0, 0], "children": [1]},
            {"name": "Spine", "translation": [0, 0.3, 0], "children": [2]},
            {"name": "Head", "translation": [0, 0.3, 0], "children": [3]},
            {"name": "HeadMesh", "mesh": 0},
        ]
        for parent, side, x, limb in (
            (0, "left", 0.1, LEG),
            (0, "right", -0.1, LEG),
            (1, "left", 0.2, ARM),
            (1, "right", -0.2, ARM),
        ):
            for i, bone in enumerate(limb):
                nodes[parent].setdefault("children", []).append(len(nodes))
                parent = len(nodes)
                bones_by_name[f"{side}{bone}"] = parent
                nodes.append(
                    {"name": f"{side}{bone}", "translation": [x if i == 0 else 0, -0.3 if limb is LEG else 0.2, 0]}
                )
        gltf["nodes"] = nodes
        gltf["scenes"] = [{"nodes": [0]}]
    else:
        gltf["nodes"] = [{"name": "HeadMesh", "mesh": 0}]
        gltf["scenes"] = [{"nodes": [0]}]
    if vrm_expressions is not None:
        index = {name: i for i, name in enumerate(morph_names)}
        gltf["extensionsUsed"] = ["VRMC_vrm"]
        gltf["extensions"] = {
            "VRMC_vrm": {
                "specVersion": "1.0",
                "meta": {
                    "name": "test head",
                    "version": "1",
                    "authors": ["mrrrme tests"],
                    "licenseUrl": "https://vrm.dev/licenses/1.0/",
                    "avatarPermission": "onlyAuthor",
                    "commercialUsage": "personalNonProfit",
                    "allowExcessivelyViolentUsage": False,
                    "allowExcessivelySexualUsage": False,
                    "allowPoliticalOrReligiousUsage": False,
                    "allowAntisocialOrHateUsage": False,
                    "creditNotation": "required",
                    "allowRedistribution": False,
                    "modification": "prohibited",
                },
                "humanoid": {"humanBones": {bone: {"node": node} for bone, node in bones_by_name.items()}},
                "expressions": {
                    "preset": {
                        preset: {"morphTargetBinds": [{"node": 3, "index": index[target], "weight": 1.0}]}
                        for preset, target in vrm_expressions.items()
                    }
                },
            }
        }
    binary = bytes(buffer.data) + b"\0" * (-len(buffer.data) % 4)
    gltf["buffers"] = [{"byteLength": len(binary)}]
    gltf["bufferViews"] = buffer.views
    gltf["accessors"] = buffer.accessors
    text = json.dumps(gltf, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(binary), b"BIN\0") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


OCULUS = ["viseme_sil", "viseme_PP", "viseme_FF", "viseme_TH", "viseme_DD", "viseme_kk", "viseme_CH", "viseme_SS",
          "viseme_nn", "viseme_RR", "viseme_aa", "viseme_E", "viseme_I", "viseme_O", "viseme_U"]  # fmt: skip
ARKIT = ["jawOpen", "mouthFunnel", "mouthPucker", "mouthClose", "mouthPressLeft", "mouthPressRight", "mouthSmileLeft",
         "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight", "mouthStretchLeft", "mouthStretchRight",
         "eyeBlinkLeft", "eyeBlinkRight", "browInnerUp", "browDownLeft", "browDownRight", "cheekSquintLeft",
         "cheekSquintRight"]  # fmt: skip
# VRM presets -> the morph targets they are bound to (VRM 0.x style names, as many models have them).
VRM_BINDS = {"aa": "A", "ih": "I", "ou": "U", "ee": "E", "oh": "O", "blink": "Blink", "happy": "Joy", "sad": "Sorrow",
             "angry": "Angry", "relaxed": "Fun", "neutral": "Neutral"}  # fmt: skip


def ready_player_me_like() -> bytes:
    """Oculus visemes and ARKit blendshapes under a Head bone, as Ready Player Me and Avaturn export them."""
    return glb(OCULUS + ARKIT, bones=True)


def arkit_only() -> bytes:
    return glb(ARKIT)


def vrm() -> bytes:
    return glb(list(VRM_BINDS.values()), vrm_expressions=VRM_BINDS)
