"""Numpy-only RGB rendering of a synthetic signer.

Limbs, fingers, torso and head are *capsules* (a segment swept by a sphere).  Each
capsule is rasterised with a vectorised distance field over the pixels of its bounding
box, all frames at once; a depth buffer keeps the nearest surface, so occlusions follow
the 3D skeleton.  Shading is Lambertian with the capsule's analytic normal, and edges are
anti-aliased by the distance to the outline.  The torso and legs barely move, so they are
drawn once per clip (from the mean pose) into the background.

A :class:`Style` (background, clothing, skin tone, lighting: four integer ids) is drawn
independently of the sign, so appearance carries no information about the class.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from signssl.errors import ConfigError
from signssl.synth.camera import Camera
from signssl.synth.skeleton import BODY, HAND, LEFT_HAND0, NUM_JOINTS, RIGHT_HAND0, Signer

# ----------------------------------------------------------------------------- styles

SKIN_TONES = (
    np.array(
        [
            [255, 224, 196],
            [241, 194, 160],
            [224, 172, 128],
            [198, 134, 96],
            [161, 102, 68],
            [124, 78, 52],
            [94, 58, 38],
            [68, 42, 30],
        ],
        np.float32,
    )
    / 255
)
_CLOTH_COLOURS = (
    np.array(
        [
            [30, 30, 34],
            [225, 225, 220],
            [40, 60, 120],
            [150, 30, 40],
            [40, 100, 60],
            [110, 110, 115],
            [200, 150, 40],
            [90, 50, 120],
        ],
        np.float32,
    )
    / 255
)
_HAIR = np.array([[25, 20, 18], [70, 45, 25], [150, 110, 60], [200, 200, 195]], np.float32) / 255
N_BACKGROUNDS, N_CLOTHING, N_SKIN, N_LIGHTING = 24, 16, len(SKIN_TONES), 8
_TEXTURES = ("flat", "gradient", "stripes", "checker", "blobs", "panel")


@dataclass(frozen=True)
class Style:
    """Appearance of one video, as four ids.

    ``background`` (``N_BACKGROUNDS``: texture kind = id % 6, colours from the id),
    ``clothing`` (``N_CLOTHING``: colour = id % 8, long sleeves when id < 8, hair colour),
    ``skin`` (``N_SKIN`` tones, light to dark), ``lighting`` (``N_LIGHTING``: direction,
    intensity and colour temperature).
    """

    background: int = 0
    clothing: int = 0
    skin: int = 0
    lighting: int = 0

    def __post_init__(self) -> None:
        for name, n in (
            ("background", N_BACKGROUNDS),
            ("clothing", N_CLOTHING),
            ("skin", N_SKIN),
            ("lighting", N_LIGHTING),
        ):
            v = getattr(self, name)
            if not 0 <= v < n:
                raise ConfigError(f"style {name} id must be in 0..{n - 1}, got {v}")

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Style:
        return cls(
            int(rng.integers(N_BACKGROUNDS)),
            int(rng.integers(N_CLOTHING)),
            int(rng.integers(N_SKIN)),
            int(rng.integers(N_LIGHTING)),
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _lighting(lid: int) -> tuple[np.ndarray, float, np.ndarray]:
    """(direction towards the light in camera axes, ambient share, RGB tint)."""
    dirs = [(-0.5, -0.6, -0.6), (0.5, -0.6, -0.6), (0.0, -0.8, -0.6), (0.0, -0.1, -1.0)]
    d = np.asarray(dirs[lid % 4], np.float32)
    warm = lid // 4 == 0
    tint = np.array([1.06, 1.0, 0.9] if warm else [0.92, 0.98, 1.08], np.float32)
    ambient = 0.45 if lid % 2 == 0 else 0.3
    return d / np.linalg.norm(d), ambient, tint


def background_image(bid: int, size: int) -> np.ndarray:
    """Background ``(size, size, 3)`` float32 in [0, 1], fully determined by ``bid``."""
    rng = np.random.default_rng(1000 + bid)
    kind = _TEXTURES[bid % len(_TEXTURES)]
    c1 = rng.uniform(0.15, 0.9, 3).astype(np.float32)
    c2 = np.clip(c1 + rng.uniform(-0.25, 0.25, 3), 0, 1).astype(np.float32)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size  # (H, W)
    if kind == "flat":
        w = np.zeros_like(x)
    elif kind == "gradient":
        w = y
    elif kind == "stripes":
        period = rng.uniform(0.08, 0.25)
        w = (np.floor(x / period) % 2).astype(np.float32)
    elif kind == "checker":
        period = rng.uniform(0.1, 0.3)
        w = ((np.floor(x / period) + np.floor(y / period)) % 2).astype(np.float32)
    elif kind == "blobs":  # low-frequency noise, bilinearly upsampled
        g = rng.random((5, 5)).astype(np.float32)
        gy, gx = y * 4, x * 4
        i, j = np.minimum(gy.astype(int), 3), np.minimum(gx.astype(int), 3)
        fy, fx = gy - i, gx - j
        w = (
            g[i, j] * (1 - fy) * (1 - fx)
            + g[i + 1, j] * fy * (1 - fx)
            + g[i, j + 1] * (1 - fy) * fx
            + g[i + 1, j + 1] * fy * fx
        )
    else:  # panel: a lighter rectangle behind the signer
        x0, x1 = sorted(rng.uniform(0.1, 0.9, 2))
        w = ((x > x0) & (x < x1) & (y > rng.uniform(0.0, 0.4))).astype(np.float32)
    return c1 * (1 - w[..., None]) + c2 * w[..., None]


# ----------------------------------------------------------------------------- primitives

SKIN, CLOTH, PANTS, HAIR, EYE, LIP = range(6)
_EXTRA = ("head", "hair", "neck_base", "neck_top", "hip_mid", "shoulder_mid")
_X = {n: NUM_JOINTS + i for i, n in enumerate(_EXTRA)}


def _j(name: str) -> int:
    return BODY[name]


def _hand_prims(h0: int, L: float) -> list[tuple[int, int, float, int]]:
    prims = [
        (h0 + HAND["wrist"], h0 + HAND["middle_finger_mcp"], 0.19 * L, SKIN),
        (h0 + HAND["index_finger_mcp"], h0 + HAND["pinky_mcp"], 0.1 * L, SKIN),
        (h0 + HAND["wrist"], h0 + HAND["thumb_mcp"], 0.09 * L, SKIN),
    ]
    for f in ("index_finger", "middle_finger", "ring_finger", "pinky"):
        chain = [f"{f}_mcp", f"{f}_pip", f"{f}_dip", f"{f}_tip"]
        r = (0.05 if f != "pinky" else 0.043) * L
        prims += [
            (h0 + HAND[a], h0 + HAND[b], r, SKIN)
            for a, b in zip(chain[:-1], chain[1:], strict=True)
        ]
    chain = ["thumb_mcp", "thumb_ip", "thumb_tip"]
    prims += [
        (h0 + HAND[a], h0 + HAND[b], 0.058 * L, SKIN)
        for a, b in zip(chain[:-1], chain[1:], strict=True)
    ]
    return prims


def _primitives(s: Signer, short_sleeves: bool) -> tuple[list, list]:
    """(static primitives, moving primitives) as ``(joint a, joint b, radius m, material)``."""
    sc = s.scale
    static = [
        (_X["shoulder_mid"], _X["hip_mid"], 0.42 * s.shoulder_width, CLOTH),
        (_j("left_shoulder"), _j("right_shoulder"), 0.06 * sc, CLOTH),
        (_j("left_shoulder"), _j("left_hip"), 0.075 * sc, CLOTH),
        (_j("right_shoulder"), _j("right_hip"), 0.075 * sc, CLOTH),
        (_j("left_hip"), _j("right_hip"), 0.085 * sc, PANTS),
        (_j("left_hip"), _j("left_knee"), 0.08 * sc, PANTS),
        (_j("right_hip"), _j("right_knee"), 0.08 * sc, PANTS),
        (_X["neck_base"], _X["neck_top"], 0.05 * sc, SKIN),
    ]
    fore = SKIN if short_sleeves else CLOTH
    moving = [
        (_X["hair"], _X["hair"], 1.02 * s.head_radius, HAIR),
        (_X["head"], _X["head"], s.head_radius, SKIN),
        (_j("nose"), _j("nose"), 0.16 * s.head_radius, SKIN),
        (_j("left_eye"), _j("left_eye"), 0.11 * s.head_radius, EYE),
        (_j("right_eye"), _j("right_eye"), 0.11 * s.head_radius, EYE),
        (_j("mouth_left"), _j("mouth_right"), 0.07 * s.head_radius, LIP),
        (_j("left_shoulder"), _j("left_elbow"), 0.048 * sc, CLOTH),
        (_j("right_shoulder"), _j("right_elbow"), 0.048 * sc, CLOTH),
        (_j("left_elbow"), _j("left_wrist"), 0.036 * sc, fore),
        (_j("right_elbow"), _j("right_wrist"), 0.036 * sc, fore),
    ]
    moving += _hand_prims(LEFT_HAND0, s.hand_length) + _hand_prims(RIGHT_HAND0, s.hand_length)
    return static, moving


def _extended(points: np.ndarray, s: Signer) -> np.ndarray:
    """Append the helper points of ``_EXTRA`` to a skeleton ``(T, 75, 3)``."""
    ears = (points[:, _j("left_ear")] + points[:, _j("right_ear")]) / 2
    nose = points[:, _j("nose")]
    fwd = nose - ears
    fwd = fwd / np.maximum(np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-9)
    head = ears - 0.05 * s.head_radius * fwd
    up = np.array([0.0, 1.0, 0.0])
    hair = head + 0.22 * s.head_radius * up - 0.2 * s.head_radius * fwd
    sh = (points[:, _j("left_shoulder")] + points[:, _j("right_shoulder")]) / 2
    hip = (points[:, _j("left_hip")] + points[:, _j("right_hip")]) / 2
    extra = np.stack(
        [head, hair, sh + 0.02 * s.scale * up, head - 0.6 * s.head_radius * up, hip, sh], 1
    )
    return np.concatenate([points, extra], 1)


# ----------------------------------------------------------------------------- raster


def _draw_capsules(
    img: np.ndarray,
    zbuf: np.ndarray,
    uv: np.ndarray,
    z: np.ndarray,
    prims: list,
    radius_scale: np.ndarray,
    colours: np.ndarray,
    light: tuple[np.ndarray, float, np.ndarray],
) -> None:
    """Rasterise capsules into ``img`` ``(T, H, W, 3)`` / ``zbuf`` ``(T, H, W)`` in place.

    ``uv`` ``(T, P, 2)`` pixel coordinates, ``z`` ``(T, P)`` depths (metres),
    ``radius_scale`` ``(T, P)`` pixels per metre at each point.  Per capsule, a square
    window (the largest bounding box over frames) is tested for all frames at once; only
    the pixels inside the outline are then depth-tested, shaded and written.
    """
    T, H, W = zbuf.shape
    flat_img, flat_z = img.reshape(-1, 3), zbuf.reshape(-1)
    ldir, ambient, tint = light
    for a, b, r_m, mat in prims:
        A, B = uv[:, a], uv[:, b]  # (T, 2) pixels
        px_per_m = 0.5 * (radius_scale[:, a] + radius_scale[:, b])  # (T,)
        r = px_per_m * np.float32(r_m)  # (T,) radius in pixels
        lo = np.floor(np.minimum(A, B) - r[:, None] - 1).astype(np.int64)  # (T, 2)
        hi = np.ceil(np.maximum(A, B) + r[:, None] + 1).astype(np.int64)
        visible = (hi[:, 0] > 0) & (hi[:, 1] > 0) & (lo[:, 0] < W) & (lo[:, 1] < H)
        if not visible.any():
            continue
        size = int(min(max((hi - lo)[visible].max(), 1), H, W))
        ox = np.clip(lo[:, 0], 0, W - size)  # (T,) window origin
        oy = np.clip(lo[:, 1], 0, H - size)
        off = np.arange(size, dtype=np.float32) + np.float32(0.5)
        dx = (ox[:, None] - A[:, 0, None]).astype(np.float32)[:, None, :] + off[
            None, None, :
        ]  # (T, 1, S)
        dy = (oy[:, None] - A[:, 1, None]).astype(np.float32)[:, :, None] + off[
            None, :, None
        ]  # (T, S, 1)
        abx, aby = (B - A)[:, 0, None, None], (B - A)[:, 1, None, None]  # (T, 1, 1)
        inv_len2 = 1.0 / np.maximum(abx * abx + aby * aby, np.float32(1e-6))
        t = np.clip((dx * abx + dy * aby) * inv_len2, 0.0, 1.0)  # (T, S, S) position on the axis
        ex, ey = dx - t * abx, dy - t * aby  # pixel minus its closest axis point
        d2 = ex * ex + ey * ey
        rr = r[:, None, None]
        inside = d2 < (rr + 0.5) ** 2  # (T, S, S)
        ti, yi, xi = np.nonzero(inside)
        if ti.size == 0:
            continue
        # -- only the pixels inside the outline from here on
        flat = (ti * H + (oy[ti] + yi)) * W + (ox[ti] + xi)  # index into (T, H, W)
        t_in, ex_in, ey_in, d2_in = t[ti, yi, xi], ex[ti, yi, xi], ey[ti, yi, xi], d2[ti, yi, xi]
        r_in = r[ti]
        h = np.sqrt(np.maximum(r_in * r_in - d2_in, 0.0))  # surface height above the axis (px)
        depth = z[ti, a] + t_in * (z[ti, b] - z[ti, a]) - h / px_per_m[ti]
        old_z = flat_z[flat]
        win = depth < old_z
        if not win.any():
            continue
        flat, depth, h, r_in = flat[win], depth[win], h[win], r_in[win]
        ex_in, ey_in, d2_in = ex_in[win], ey_in[win], d2_in[win]
        inv = 1.0 / np.maximum(r_in, 1e-6)
        shade = (ex_in * ldir[0] + ey_in * ldir[1] - h * ldir[2]) * inv
        shade = ambient + (1 - ambient) * np.clip(shade, 0.0, 1.0)  # (N,)
        colour = (colours[mat] * tint)[None, :] * shade[:, None]  # (N, 3)
        alpha = np.clip(r_in - np.sqrt(d2_in) + 0.5, 0.0, 1.0)[:, None]  # anti-aliased outline
        flat_img[flat] = alpha * colour + (1 - alpha) * flat_img[flat]
        solid = alpha[:, 0] >= 0.5
        flat_z[flat[solid]] = depth[solid]


def render_skeleton(
    points: np.ndarray, camera: Camera, signer: Signer, style: Style, size: int = 112
) -> np.ndarray:
    """Render a skeleton ``(T, 75, 3)`` (internal world frame) as ``(T, size, size, 3)`` uint8."""
    if not 16 <= size <= 1024:
        raise ConfigError(f"render size must be in 16..1024 pixels, got {size}")
    pts = _extended(np.asarray(points, np.float64), signer)  # (T, 81, 3)
    T = pts.shape[0]
    pc = camera.to_camera(pts)  # (T, P, 3)
    depth = np.maximum(pc[..., 2], 1e-3)
    scale = camera.focal * size / depth  # pixels per metre at each point
    uv = (pc[..., :2] * scale[..., None] + np.asarray(camera.centre) * size).astype(np.float32)
    colours = np.stack(
        [
            SKIN_TONES[style.skin],
            _CLOTH_COLOURS[style.clothing % 8],
            _CLOTH_COLOURS[(style.clothing + 3) % 8] * 0.6,
            _HAIR[style.clothing % 4],
            np.array([0.08, 0.06, 0.05]),
            SKIN_TONES[style.skin] * np.array([0.8, 0.45, 0.45]),
        ]
    ).astype(np.float32)
    light = _lighting(style.lighting)
    static, moving = _primitives(signer, short_sleeves=style.clothing >= 8)
    # the torso and legs: once, from the mean pose, then shared by every frame
    bg = background_image(style.background, size)
    img1, z1 = bg[None].copy(), np.full((1, size, size), np.inf, np.float32)
    _draw_capsules(
        img1,
        z1,
        uv.mean(0, keepdims=True),
        depth.mean(0, keepdims=True),
        static,
        scale.mean(0, keepdims=True),
        colours,
        light,
    )
    img = np.ascontiguousarray(np.repeat(img1, T, 0))
    zbuf = np.ascontiguousarray(np.repeat(z1, T, 0))
    _draw_capsules(
        img, zbuf, uv, depth.astype(np.float32), moving, scale.astype(np.float32), colours, light
    )
    return (np.clip(img, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
