"""Named joint layouts.

A :class:`Layout` is an ordered list of :class:`Part` objects; each part has a name and
an ordered list of joint names.  A joint is identified everywhere by its *qualified name*
``"<part>.<joint>"`` (e.g. ``"left_hand.thumb_tip"``, ``"body.left_shoulder"``).  Part
names are shared across layouts (``body``, ``face``, ``left_hand``, ``right_hand``,
``body_world``) and joint names follow one vocabulary (MediaPipe's, lower-case), so
converting between layouts is a lookup by qualified name; joints the source lacks come
out with confidence 0.

Each part also says which per-joint *values* it stores in a flat vector (e.g.
``("x", "y", "z", "visibility")``): that is how the many "one flat vector per frame"
datasets are read.  Custom layouts are declared in YAML, see :func:`load_layout_yaml`.

Built-in layouts (``list_layouts()``):

========================  =====  ====================================================
name                      J      parts
========================  =====  ====================================================
holistic                  543    body 33 (x,y,z,visibility), face 468, hands 2 x 21;
                                 its flat form is the common 1662-value vector
holistic_iris             553    as holistic with the 478-point face (refined iris)
holistic_world            576    holistic + body_world 33 (metric 3D pose)
holistic_iris_world       586    the layout of pose-format/MediaPipe ``.pose`` files
holistic_world_noface     108    body 33, hands 2 x 21, body_world 33 (no face mesh;
                                 what ``signssl.synth`` writes)
hands                     42     left_hand 21, right_hand 21
coco_wholebody            133    body 17 + feet 6, face 68 (iBUG), hands 2 x 21
openpose_body25_hands     67     BODY_25 + hands 2 x 21
masa49                    49     7 upper body (MASA, docs/methods.md#masa-input) + hands 2 x 21
========================  =====  ====================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from signssl.errors import LayoutError
from signssl.utils import read_yaml_file

# ----------------------------------------------------------------------------- joint names

HAND_21: tuple[str, ...] = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_finger_mcp", "index_finger_pip", "index_finger_dip", "index_finger_tip",
    "middle_finger_mcp", "middle_finger_pip", "middle_finger_dip", "middle_finger_tip",
    "ring_finger_mcp", "ring_finger_pip", "ring_finger_dip", "ring_finger_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)  # MediaPipe / OpenPose / COCO-WholeBody hand order

MEDIAPIPE_POSE_33: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer", "left_ear", "right_ear",
    "mouth_left", "mouth_right", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)

COCO_BODY_17: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO_FEET_6: tuple[str, ...] = (
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)

OPENPOSE_BODY_25: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist", "mid_hip",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)

# MASA (docs/methods.md#masa-input): COCO-WholeBody body indices [0, 5, 7, 9, 6, 8, 10]
MASA_BODY_7: tuple[str, ...] = (
    "nose", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)

MEDIAPIPE_FACE_468: tuple[str, ...] = tuple(str(i) for i in range(468))
MEDIAPIPE_FACE_478: tuple[str, ...] = tuple(str(i) for i in range(478))
IBUG_FACE_68: tuple[str, ...] = tuple(f"ibug_{i}" for i in range(68))

#: Named joint lists usable as ``joints: <name>`` in a layout YAML file.
JOINT_LISTS: dict[str, tuple[str, ...]] = {
    "hand21": HAND_21,
    "mediapipe_pose33": MEDIAPIPE_POSE_33,
    "mediapipe_face468": MEDIAPIPE_FACE_468,
    "mediapipe_face478": MEDIAPIPE_FACE_478,
    "coco_body17": COCO_BODY_17,
    "coco_feet6": COCO_FEET_6,
    "coco_body23": COCO_BODY_17 + COCO_FEET_6,
    "ibug_face68": IBUG_FACE_68,
    "openpose_body25": OPENPOSE_BODY_25,
    "masa_body7": MASA_BODY_7,
}

# ----------------------------------------------------------------------------- bones

_FINGERS = ("thumb", "index_finger", "middle_finger", "ring_finger", "pinky")


def _hand_bones() -> list[tuple[str, str]]:
    bones = []
    for finger in _FINGERS:
        chain = ["wrist"] + [n for n in HAND_21 if n.startswith(finger + "_")]
        bones += list(zip(chain[:-1], chain[1:], strict=True))
    mcps = ["index_finger_mcp", "middle_finger_mcp", "ring_finger_mcp", "pinky_mcp"]
    bones += list(zip(mcps[:-1], mcps[1:], strict=True))  # the knuckle bar
    return bones


HAND_BONES: tuple[tuple[str, str], ...] = tuple(_hand_bones())  # 23: 4 per finger + 3 knuckle bar

# Body bones over the union of the body vocabularies; a layout keeps those whose two
# ends it has, and adds the neck-free shortcuts when it has no neck.
BODY_BONES: tuple[tuple[str, str], ...] = (
    ("nose", "left_eye_inner"), ("left_eye_inner", "left_eye"), ("left_eye", "left_eye_outer"),
    ("left_eye_outer", "left_ear"), ("nose", "right_eye_inner"),
    ("right_eye_inner", "right_eye"), ("right_eye", "right_eye_outer"),
    ("right_eye_outer", "right_ear"), ("mouth_left", "mouth_right"),
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"), ("left_wrist", "left_pinky"), ("left_wrist", "left_index"),
    ("left_wrist", "left_thumb"), ("left_pinky", "left_index"), ("right_wrist", "right_pinky"),
    ("right_wrist", "right_index"), ("right_wrist", "right_thumb"),
    ("right_pinky", "right_index"), ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"), ("left_hip", "right_hip"), ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"),
    ("left_ankle", "left_foot_index"), ("right_ankle", "right_heel"),
    ("right_heel", "right_foot_index"), ("right_ankle", "right_foot_index"),
    ("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"),
    ("right_ankle", "right_big_toe"), ("right_big_toe", "right_small_toe"),
    ("neck", "nose"), ("neck", "left_shoulder"), ("neck", "right_shoulder"),
    ("neck", "mid_hip"), ("mid_hip", "left_hip"), ("mid_hip", "right_hip"),
    ("nose", "left_eye"), ("left_eye", "left_ear"), ("nose", "right_eye"),
    ("right_eye", "right_ear"),
)
# used only when the layout lacks the joints of a finer path (e.g. COCO has no eye_inner)
_BODY_FALLBACK_BONES: tuple[tuple[str, str], ...] = (("nose", "left_shoulder"), ("nose", "right_shoulder"))

# ----------------------------------------------------------------------------- values

COORD_VALUES = ("x", "y", "z")
CONF_VALUES = ("visibility", "presence", "confidence", "score", "c")
SKIP_VALUES = ("_", "skip")
_KNOWN_VALUES = COORD_VALUES + CONF_VALUES + SKIP_VALUES


@dataclass(frozen=True)
class Part:
    """A named group of joints.

    Args:
        name: part name shared across layouts (``body``, ``face``, ``left_hand`` ...).
        joints: joint names within the part, in storage order.
        values: per-joint values of this part in a flat vector, e.g. ``("x", "y", "z")``;
            ``visibility``/``presence``/``confidence``/``score``/``c`` are confidence-like,
            ``_`` skips a value.
    """

    name: str
    joints: tuple[str, ...]
    values: tuple[str, ...] = COORD_VALUES

    def __post_init__(self) -> None:
        if not self.joints:
            raise LayoutError(f"part '{self.name}' has no joints")
        if len(set(self.joints)) != len(self.joints):
            raise LayoutError(f"part '{self.name}' repeats a joint name")
        unknown = [v for v in self.values if v not in _KNOWN_VALUES]
        if unknown:
            raise LayoutError(
                f"part '{self.name}': unknown value name(s) {unknown}; known: {list(_KNOWN_VALUES)}"
            )
        if "x" not in self.values or "y" not in self.values:
            raise LayoutError(f"part '{self.name}': values must include x and y, got {self.values}")


@dataclass(frozen=True)
class Layout:
    """An ordered set of parts; joints are addressed by qualified name ``part.joint``."""

    name: str
    parts: tuple[Part, ...]
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        names = [p.name for p in self.parts]
        if len(set(names)) != len(names):
            raise LayoutError(f"layout '{self.name}' repeats a part name: {names}")

    # -- joints
    @cached_property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(f"{p.name}.{j}" for p in self.parts for j in p.joints)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.joint_names)}

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def part_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts)

    def has(self, joint: str) -> bool:
        return joint in self._index

    def index(self, joint: str) -> int:
        """Index of a qualified joint name; raises :class:`LayoutError` listing parts."""
        try:
            return self._index[joint]
        except KeyError:
            part = joint.split(".", 1)[0]
            hint = (
                f"part '{part}' has joints {list(self.part(part).joints)[:8]}..."
                if part in self.part_names
                else f"known parts: {list(self.part_names)}"
            )
            raise LayoutError(
                f"layout '{self.name}' has no joint '{joint}' (use 'part.joint'); {hint}"
            ) from None

    def indices(self, joints: Iterable[str]) -> list[int]:
        return [self.index(j) for j in joints]

    def part(self, name: str) -> Part:
        for p in self.parts:
            if p.name == name:
                return p
        raise LayoutError(f"layout '{self.name}' has no part '{name}'; known: {list(self.part_names)}")

    def part_slice(self, name: str) -> slice:
        """Contiguous joint range of a part (parts are stored in order)."""
        start = 0
        for p in self.parts:
            if p.name == name:
                return slice(start, start + len(p.joints))
            start += len(p.joints)
        self.part(name)  # raises with the known parts
        raise AssertionError  # pragma: no cover

    # -- flat vectors
    @property
    def flat_size(self) -> int:
        """Length of one frame's flat vector (joints x values, over parts)."""
        return sum(len(p.joints) * len(p.values) for p in self.parts)

    @property
    def has_z(self) -> bool:
        return any("z" in p.values for p in self.parts)

    # -- graph
    @cached_property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """Index pairs of the bones whose two joints are in this layout (within parts)."""
        out: list[tuple[int, int]] = []
        for p in self.parts:
            have = set(p.joints)
            if p.name.endswith("hand"):
                pairs: Sequence[tuple[str, str]] = HAND_BONES
            elif p.name.startswith("body"):
                pairs = BODY_BONES
                if "left_eye_inner" not in have:  # e.g. COCO / MASA: connect the head
                    pairs = tuple(pairs) + _BODY_FALLBACK_BONES
            else:
                continue
            for a, b in pairs:
                if a in have and b in have:
                    out.append((self.index(f"{p.name}.{a}"), self.index(f"{p.name}.{b}")))
        return tuple(dict.fromkeys(out))

    def summary(self) -> str:
        parts = ", ".join(f"{p.name} {len(p.joints)}" for p in self.parts)
        return f"{self.name} ({self.num_joints} joints: {parts}; flat {self.flat_size} values)"


# ----------------------------------------------------------------------------- registry

#: the layout encoders, datasets and readers use unless told otherwise: 7 upper-body
#: joints and 2 x 21 hand joints (MASA's input, docs/methods.md#masa-input)
DEFAULT_LAYOUT = "masa49"

_LAYOUTS: dict[str, Layout] = {}


def register_layout(layout: Layout, overwrite: bool = False) -> Layout:
    if layout.name in _LAYOUTS and not overwrite:
        raise LayoutError(f"layout '{layout.name}' is already registered")
    _LAYOUTS[layout.name] = layout
    return layout


def list_layouts() -> list[str]:
    return sorted(_LAYOUTS)


def get_layout(name_or_path: str | Path | Layout) -> Layout:
    """A registered layout by name, or a custom layout from a YAML file path."""
    if isinstance(name_or_path, Layout):
        return name_or_path
    key = str(name_or_path)
    if key in _LAYOUTS:
        return _LAYOUTS[key]
    if key.endswith((".yaml", ".yml")) or Path(key).is_file():
        return load_layout_yaml(key)
    raise LayoutError(
        f"unknown layout '{key}'; known: {list_layouts()} (or give a layout .yaml file)"
    )


def _part(name: str, joints: tuple[str, ...], values: tuple[str, ...] = COORD_VALUES) -> Part:
    return Part(name, joints, values)


_POSE4 = ("x", "y", "z", "visibility")
for _layout in (
    Layout("holistic", (
        _part("body", MEDIAPIPE_POSE_33, _POSE4), _part("face", MEDIAPIPE_FACE_468),
        _part("left_hand", HAND_21), _part("right_hand", HAND_21),
    ), "MediaPipe Holistic; flat form = the common 1662-value vector"),
    Layout("holistic_iris", (
        _part("body", MEDIAPIPE_POSE_33, _POSE4), _part("face", MEDIAPIPE_FACE_478),
        _part("left_hand", HAND_21), _part("right_hand", HAND_21),
    ), "MediaPipe Holistic with refined (478-point) face"),
    Layout("holistic_world", (
        _part("body", MEDIAPIPE_POSE_33, _POSE4), _part("face", MEDIAPIPE_FACE_468),
        _part("left_hand", HAND_21), _part("right_hand", HAND_21),
        _part("body_world", MEDIAPIPE_POSE_33, _POSE4),
    ), "MediaPipe Holistic with pose world landmarks (metres, hip-centred)"),
    Layout("holistic_iris_world", (
        _part("body", MEDIAPIPE_POSE_33, _POSE4), _part("face", MEDIAPIPE_FACE_478),
        _part("left_hand", HAND_21), _part("right_hand", HAND_21),
        _part("body_world", MEDIAPIPE_POSE_33, _POSE4),
    ), "the layout of MediaPipe .pose files made by pose-format"),
    Layout("holistic_world_noface", (
        _part("body", MEDIAPIPE_POSE_33, _POSE4),
        _part("left_hand", HAND_21), _part("right_hand", HAND_21),
        _part("body_world", MEDIAPIPE_POSE_33, _POSE4),
    ), "MediaPipe Holistic pose + hands + world landmarks, without the face mesh"),
    Layout("hands", (_part("left_hand", HAND_21), _part("right_hand", HAND_21)), "two hands"),
    Layout("coco_wholebody", (
        _part("body", COCO_BODY_17 + COCO_FEET_6, ("x", "y", "score")),
        _part("face", IBUG_FACE_68, ("x", "y", "score")),
        _part("left_hand", HAND_21, ("x", "y", "score")),
        _part("right_hand", HAND_21, ("x", "y", "score")),
    ), "COCO-WholeBody 133 (MMPose order)"),
    Layout("openpose_body25_hands", (
        _part("body", OPENPOSE_BODY_25, ("x", "y", "c")),
        _part("left_hand", HAND_21, ("x", "y", "c")),
        _part("right_hand", HAND_21, ("x", "y", "c")),
    ), "OpenPose BODY_25 + hands"),
    Layout("masa49", (
        _part("body", MASA_BODY_7, ("x", "y", "score")),
        _part("left_hand", HAND_21, ("x", "y", "score")),
        _part("right_hand", HAND_21, ("x", "y", "score")),
    ), "MASA: 7 upper-body joints + two hands, 2D + confidence"),
):
    register_layout(_layout)


# ----------------------------------------------------------------------------- YAML

def load_layout_yaml(path: str | Path) -> Layout:
    """Read a custom layout.

    Schema::

        name: my-dataset            # optional, defaults to the file name
        parts:                      # in storage order
          - name: body              # body | face | left_hand | right_hand | body_world | ...
            joints: mediapipe_pose33          # a named list (see JOINT_LISTS) or a list of names
            values: [x, y, z, visibility]     # per-joint values in the flat vector
          - name: left_hand
            joints: hand21
            values: [x, y, z]
    """
    p = Path(path)
    if not p.exists():
        raise LayoutError(f"layout file '{p}' does not exist")
    data = read_yaml_file(p, LayoutError)  # not UTF-8, not YAML, nested absurdly deep, a FIFO
    return layout_from_dict(data, default_name=p.stem, source=str(p))


def layout_from_dict(
    data: object, default_name: str = "custom", source: str = "<dict>", check_joints: bool = True
) -> Layout:
    """A :class:`Layout` from its dict form (:func:`load_layout_yaml` gives the schema).

    With ``check_joints`` (custom layouts), the joints of a part named like a built-in one
    (``body``, ``body_world``, ``face``, ``left_hand``, ``right_hand``) must be known names
    of that kind of part (:func:`known_joint_names`), and a part name one typo away from a
    built-in one is refused: layouts are converted by joint name, so a misspelt name would
    silently come out missing.  Errors name ``source`` and suggest the closest known name.
    """
    if not isinstance(data, dict) or not isinstance(data.get("parts"), list) or not data["parts"]:
        raise LayoutError(f"{source}: a layout needs a non-empty 'parts' list (see load_layout_yaml)")
    parts = []
    for i, raw in enumerate(data["parts"]):
        if not isinstance(raw, dict) or "name" not in raw or "joints" not in raw:
            raise LayoutError(f"{source}: part #{i} needs 'name' and 'joints'")
        joints = raw["joints"]
        if isinstance(joints, str):
            if joints not in JOINT_LISTS:
                raise LayoutError(
                    f"{source}: part '{raw['name']}': unknown joint list '{joints}'; "
                    f"known: {sorted(JOINT_LISTS)} (or give a list of names)"
                )
            joints = JOINT_LISTS[joints]
        values = raw.get("values", COORD_VALUES)
        if not isinstance(joints, list | tuple) or not isinstance(values, list | tuple):
            raise LayoutError(f"{source}: part '{raw['name']}': 'joints' and 'values' must be lists")
        try:
            parts.append(Part(str(raw["name"]), tuple(str(j) for j in joints), tuple(values)))
        except LayoutError as e:
            raise LayoutError(f"{source}: {e}") from None
    try:
        layout = Layout(str(data.get("name", default_name)), tuple(parts), str(data.get("description", "")))
    except LayoutError as e:
        raise LayoutError(f"{source}: {e}") from None
    if check_joints:
        for part in layout.parts:
            _check_part_names(part, source)
    return layout


def _part_kind(name: str) -> str | None:
    """Which built-in vocabulary a part name uses: ``body`` (``body``, ``body_world``),
    ``hand`` (``left_hand``, ``right_hand``), ``face``; ``None`` for a custom part."""
    if name in ("body", "body_world"):
        return "body"
    if name in ("left_hand", "right_hand"):
        return "hand"
    return "face" if name == "face" else None


def known_joint_names(part: str) -> frozenset[str]:
    """Every joint name the built-in layouts give a part of this kind (empty for a custom
    part name): body parts share the MediaPipe pose 33, COCO body/feet, OpenPose BODY_25
    and MASA names, hands the 21 hand names, the face MediaPipe mesh indices and iBUG
    names."""
    kind = _part_kind(part)
    return frozenset(
        j for lay in _LAYOUTS.values() for p in lay.parts if _part_kind(p.name) == kind for j in p.joints
    ) if kind else frozenset()


def _check_part_names(part: Part, source: str) -> None:
    """:class:`LayoutError` for a part name a typo away from a built-in one, or joints a
    built-in part of its kind does not know (with the closest known names)."""
    import difflib

    known_parts = sorted({p.name for lay in _LAYOUTS.values() for p in lay.parts})
    if part.name not in known_parts:
        close = difflib.get_close_matches(part.name, known_parts, n=1, cutoff=0.8)
        if close:
            raise LayoutError(
                f"{source}: part '{part.name}' is not a built-in part name (did you mean "
                f"'{close[0]}'?); its joints would never match another layout's - fix the "
                "name, or choose a clearly different one for a part of your own"
            )
        return
    vocabulary = known_joint_names(part.name)
    unknown = [j for j in part.joints if j not in vocabulary]
    if not unknown:
        return
    described = []
    for j in unknown[:5]:
        close = difflib.get_close_matches(j, sorted(vocabulary), n=1, cutoff=0.6)
        described.append(f"'{j}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    lists = [n for n, joints in JOINT_LISTS.items() if set(joints) <= vocabulary]
    raise LayoutError(
        f"{source}: part '{part.name}' has unknown joint name(s) {', '.join(described)}{more}; "
        f"joints are matched by name, so a misspelt one would be silently missing - use "
        f"the names of the joint lists {lists} (signssl.pose.layouts.JOINT_LISTS)"
    )


def layout_to_dict(layout: Layout) -> dict:
    """Inverse of :func:`layout_from_dict` (named lists are written out)."""
    return {
        "name": layout.name,
        "description": layout.description,
        "parts": [
            {"name": p.name, "joints": list(p.joints), "values": list(p.values)} for p in layout.parts
        ],
    }
