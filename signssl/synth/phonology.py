"""Phonological parameters of synthetic signs and a vocabulary with minimal pairs.

A sign class (:class:`SignSpec`) is a combination of the parameters sign phonology uses:
*hands* (one-handed, two-handed symmetric or alternating, or a dominant hand acting on
a static passive hand), *handshape* (``handshapes.HANDSHAPES``), *location*
(:data:`LOCATIONS`), *movement* (:data:`MOVEMENTS`, with a direction or plane and a
repetition count), *orientation* (:data:`ORIENTATIONS`), and optionally a second
handshape or location reached during the sign.

Directions and sides are written for a right-dominant signer: ``ipsi`` is the dominant
side (the signer's right, world -X), ``contra`` the other side.  A left-handed signer
performs the mirror image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from signssl.errors import ConfigError, DataError
from signssl.synth.handshapes import HANDSHAPES, PASSIVE_HANDSHAPES
from signssl.synth.skeleton import BODY, FACE_ANCHORS, Signer, body_template, face_point
from signssl.utils import read_json_file, save_json

HANDS = ("one", "symmetric", "alternating", "passive")

#: location -> (anchor, offset in metres; the z offset is scaled by the signer's space).
#: Anchors: a face anchor (skeleton.FACE_ANCHORS), a body landmark, or ``shoulders``.
LOCATIONS: dict[str, tuple[str, tuple[float, float, float]]] = {
    "forehead": ("forehead", (0.0, 0.0, 0.05)),
    "eyes": ("eyes", (0.0, 0.0, 0.06)),
    "nose": ("nose", (0.0, -0.01, 0.05)),
    "mouth": ("mouth", (0.0, 0.0, 0.05)),
    "chin": ("chin", (0.0, -0.01, 0.05)),
    "cheek": ("right_cheek", (-0.03, 0.0, 0.04)),
    "temple": ("right_temple", (-0.04, 0.0, 0.03)),
    "ear": ("right_ear", (-0.05, 0.0, 0.0)),
    "neck": ("shoulders", (0.0, 0.07, 0.09)),
    "chest": ("shoulders", (0.0, -0.11, 0.13)),
    "shoulder": ("right_shoulder", (0.03, -0.03, 0.10)),
    "contra_shoulder": ("left_shoulder", (-0.03, -0.03, 0.11)),
    "stomach": ("shoulders", (0.0, -0.32, 0.16)),
    "neutral": ("shoulders", (-0.06, -0.15, 0.30)),
    "neutral_high": ("shoulders", (-0.08, 0.12, 0.30)),
    "neutral_low": ("shoulders", (-0.05, -0.33, 0.27)),
    "ipsi_space": ("shoulders", (-0.30, -0.10, 0.22)),
}
#: locations on the passive hand (two-handed signs with a base hand)
PASSIVE_LOCATIONS = ("passive_palm", "passive_back", "passive_fingers")
FACE_LOCATIONS = ("forehead", "eyes", "nose", "mouth", "chin", "cheek", "temple", "ear")
#: where the passive hand is held (before the signer's space scaling of z)
PASSIVE_BASE = ("shoulders", (0.08, -0.22, 0.28))

#: orientation -> (finger direction, palm direction) for the dominant (right) hand
ORIENTATIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "up_in": ((0.1, 1.0, 0.15), (0.0, 0.0, -1.0)),
    "up_out": ((0.1, 1.0, 0.1), (0.0, 0.0, 1.0)),
    "up_contra": ((0.05, 1.0, 0.2), (1.0, 0.0, 0.0)),
    "fwd_down": ((0.2, 0.0, 1.0), (0.0, -1.0, 0.0)),
    "fwd_up": ((0.2, 0.0, 1.0), (0.0, 1.0, 0.0)),
    "fwd_contra": ((0.15, 0.1, 1.0), (1.0, 0.0, 0.0)),
    "contra_down": ((1.0, 0.0, 0.35), (0.0, -1.0, 0.0)),
    "contra_in": ((1.0, 0.15, 0.2), (0.0, 0.0, -1.0)),
}
PASSIVE_ORIENTATIONS = ("fwd_up", "contra_in", "fwd_down", "up_contra")

MOVEMENTS = ("straight", "arc", "circle", "zigzag", "twist", "tap", "wiggle")
#: unit direction vectors (right-dominant: ipsi = -X)
DIRECTIONS: dict[str, tuple[float, float, float]] = {
    "up": (0.0, 1.0, 0.0),
    "down": (0.0, -1.0, 0.0),
    "forward": (0.0, 0.0, 1.0),
    "back": (0.0, 0.0, -1.0),
    "ipsi": (-1.0, 0.0, 0.0),
    "contra": (1.0, 0.0, 0.0),
}
PLANES = ("frontal", "horizontal", "sagittal")


def _anchor(signer: Signer, name: str, body: np.ndarray) -> np.ndarray:
    if name in FACE_ANCHORS:
        return face_point(signer, FACE_ANCHORS[name])
    if name == "shoulders":
        return (body[BODY["left_shoulder"]] + body[BODY["right_shoulder"]]) / 2
    return body[BODY[name]].copy()


def location_point(name: str, signer: Signer) -> np.ndarray:
    """Palm-centre target ``(3,)`` of a body location for this signer (right-dominant)."""
    if name == "passive_base":
        anchor, off = PASSIVE_BASE
    elif name in LOCATIONS:
        anchor, off = LOCATIONS[name]
    else:
        raise ConfigError(
            f"unknown location '{name}'; known: {list(LOCATIONS) + list(PASSIVE_LOCATIONS)}"
        )
    body = body_template(signer)
    o = np.asarray(off) * signer.scale
    if name.startswith(("neutral", "ipsi_space", "passive_base")):
        o = o * signer.space  # the signing space in front of the body is personal
    return _anchor(signer, anchor, body) + o + np.asarray(signer.location_bias)


@dataclass(frozen=True)
class SignSpec:
    """Phonological parameters of one sign class (see the module docstring)."""

    name: str
    hands: str = "one"
    handshape: str = "B"
    location: str = "neutral"
    movement: str = "straight"
    direction: str = "down"  # straight, arc, zigzag: chord direction; twist: its sense
    plane: str = "frontal"  # circle plane; arc: plane of the bulge
    orientation: str = "up_in"
    repeat: int = 1
    handshape2: str | None = None  # handshape reached during the sign
    location2: str | None = None  # location reached during the sign (path movement)
    passive_handshape: str | None = None
    passive_orientation: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        def check(value: str | None, known: object, what: str) -> None:
            if value is not None and value not in known:  # type: ignore[operator]
                raise ConfigError(
                    f"sign '{self.name}': unknown {what} '{value}'; known: {list(known)}"
                )  # type: ignore[call-overload]

        check(self.hands, HANDS, "hands")
        check(self.handshape, HANDSHAPES, "handshape")
        check(self.handshape2, HANDSHAPES, "handshape2")
        check(self.location, tuple(LOCATIONS) + PASSIVE_LOCATIONS, "location")
        check(self.location2, LOCATIONS, "location2")
        check(self.movement, MOVEMENTS, "movement")
        check(self.direction, DIRECTIONS, "direction")
        check(self.plane, PLANES, "plane")
        check(self.orientation, ORIENTATIONS, "orientation")
        check(self.passive_handshape, HANDSHAPES, "passive_handshape")
        check(self.passive_orientation, ORIENTATIONS, "passive_orientation")
        if not 1 <= self.repeat <= 4:
            raise ConfigError(f"sign '{self.name}': repeat must be 1..4, got {self.repeat}")
        on_passive = self.location in PASSIVE_LOCATIONS
        if on_passive != (self.hands == "passive"):
            raise ConfigError(
                f"sign '{self.name}': passive-hand locations {PASSIVE_LOCATIONS} go with "
                "hands='passive' and only with it "
                f"(got hands={self.hands!r}, location={self.location!r})"
            )
        if self.hands == "passive" and (
            self.passive_handshape is None or self.passive_orientation is None
        ):
            raise ConfigError(
                f"sign '{self.name}': hands='passive' needs passive_handshape and "
                "passive_orientation"
            )

    def key(self) -> tuple:
        """Everything but the name: two classes with equal keys are the same sign."""
        return tuple(getattr(self, f.name) for f in fields(self) if f.name != "name")

    def params(self) -> dict[str, str]:
        """Parameters as strings (manifest columns; ``""`` for an absent value)."""
        return {
            f.name: "" if v is None else str(v)
            for f in fields(self)
            if f.name != "name"
            for v in [getattr(self, f.name)]
        }

    def differs_in(self, other: SignSpec) -> list[str]:
        return [
            f.name
            for f in fields(self)
            if f.name != "name" and getattr(self, f.name) != getattr(other, f.name)
        ]


# ----------------------------------------------------------------------------- sampling

_MOVE_P = {
    "straight": 0.22,
    "arc": 0.14,
    "circle": 0.14,
    "zigzag": 0.08,
    "twist": 0.12,
    "tap": 0.22,
    "wiggle": 0.08,
}
_HANDS_P = {"one": 0.55, "symmetric": 0.15, "alternating": 0.1, "passive": 0.2}
_SYM_LOCATIONS = (
    "neutral",
    "neutral_high",
    "neutral_low",
    "chest",
    "stomach",
    "shoulder",
    "ipsi_space",
    "temple",
    "cheek",
    "ear",
)


def _choice(
    rng: np.random.Generator, options: dict[str, float] | tuple[str, ...] | list[str]
) -> str:
    if isinstance(options, dict):
        keys = list(options)
        p = np.asarray([options[k] for k in keys])
        return keys[int(rng.choice(len(keys), p=p / p.sum()))]
    return options[int(rng.integers(len(options)))]


def random_sign(rng: np.random.Generator, name: str) -> SignSpec:
    """One random, phonologically plausible sign class."""
    hands = _choice(rng, _HANDS_P)
    movement = _choice(rng, _MOVE_P)
    if hands == "passive":
        location = _choice(rng, PASSIVE_LOCATIONS)
    elif hands == "one":
        location = _choice(rng, list(LOCATIONS))
    else:
        location = _choice(rng, _SYM_LOCATIONS)
    repeat = int(rng.choice([1, 2, 3], p=[0.55, 0.3, 0.15]))
    if movement in ("circle", "wiggle"):
        repeat = min(repeat, 2)
    handshape2 = location2 = None
    if rng.random() < 0.12:
        handshape2 = _choice(rng, list(HANDSHAPES))
    if hands == "one" and rng.random() < 0.12:
        location2 = _choice(rng, [k for k in LOCATIONS if k != location])
        movement = _choice(rng, ("straight", "arc"))
        repeat = 1
    return SignSpec(
        name=name,
        hands=hands,
        handshape=_choice(rng, list(HANDSHAPES)),
        location=location,
        movement=movement,
        direction=_choice(rng, list(DIRECTIONS)),
        plane=_choice(rng, PLANES),
        orientation=_choice(rng, list(ORIENTATIONS)),
        repeat=repeat,
        handshape2=handshape2 if handshape2 is not None else None,
        location2=location2,
        passive_handshape=_choice(rng, PASSIVE_HANDSHAPES) if hands == "passive" else None,
        passive_orientation=_choice(rng, PASSIVE_ORIENTATIONS) if hands == "passive" else None,
    )


_PAIR_PARAMS = {"handshape": 0.4, "location": 0.25, "movement": 0.2, "orientation": 0.15}


def minimal_variant(rng: np.random.Generator, base: SignSpec, param: str, name: str) -> SignSpec:
    """``base`` with one parameter changed (a minimal pair)."""
    if param == "handshape":
        return replace(
            base, name=name, handshape=_choice(rng, [h for h in HANDSHAPES if h != base.handshape])
        )
    if param == "orientation":
        return replace(
            base,
            name=name,
            orientation=_choice(rng, [o for o in ORIENTATIONS if o != base.orientation]),
        )
    if param == "location":
        pool = (
            PASSIVE_LOCATIONS
            if base.hands == "passive"
            else (tuple(LOCATIONS) if base.hands == "one" else _SYM_LOCATIONS)
        )
        pool = tuple(p for p in pool if p != base.location and p != base.location2)
        return replace(base, name=name, location=_choice(rng, pool))
    if param == "movement":
        moves = ("straight", "arc") if base.location2 else MOVEMENTS
        if base.repeat > 2:  # circles and wiggles repeat at most twice
            moves = tuple(m for m in moves if m not in ("circle", "wiggle"))
        return replace(
            base, name=name, movement=_choice(rng, [m for m in moves if m != base.movement])
        )
    raise ConfigError(f"unknown minimal-pair parameter '{param}'; known: {list(_PAIR_PARAMS)}")


@dataclass
class Vocabulary:
    """A list of sign classes and the minimal pairs among them."""

    signs: list[SignSpec]
    minimal_pairs: list[tuple[str, str, str]]  # (class a, class b, the parameter they differ in)
    seed: int | None = None

    @classmethod
    def sample(
        cls, num_classes: int = 50, seed: int = 0, minimal_pair_rate: float = 0.6
    ) -> Vocabulary:
        """Draw ``num_classes`` distinct classes.

        A share ``1 - minimal_pair_rate`` of the classes are fresh random signs; each of
        the others is an earlier class with one parameter changed (handshape 40 %,
        location 25 %, movement 20 %, orientation 15 %), so it forms a minimal pair with
        it.  The first derived class always differs only in handshape, so a handshape
        minimal pair exists whenever ``num_classes >= 2``.
        """
        if num_classes < 1:
            raise ConfigError(f"num_classes must be >= 1, got {num_classes}")
        if not 0.0 <= minimal_pair_rate <= 1.0:
            raise ConfigError(f"minimal_pair_rate must be in [0, 1], got {minimal_pair_rate}")
        rng = np.random.default_rng(np.random.SeedSequence([seed, 7_000_001]))
        width = max(3, len(str(num_classes - 1)))
        n_base = max(1, min(num_classes, int(round(num_classes * (1 - minimal_pair_rate)))))
        signs: list[SignSpec] = []
        pairs: list[tuple[str, str, str]] = []
        seen: set[tuple] = set()
        attempts = 0
        while len(signs) < num_classes:
            attempts += 1
            if attempts > 100 * num_classes + 1000:
                raise ConfigError(f"could not draw {num_classes} distinct sign classes")
            name = f"sign{len(signs):0{width}d}"
            derived = len(signs) >= n_base
            if derived:  # a variant of a random earlier class (bases first, then any)
                base = signs[int(rng.integers(len(signs)))]
                param = "handshape" if not pairs else _choice(rng, _PAIR_PARAMS)
                spec = minimal_variant(rng, base, param, name)
            else:
                spec = random_sign(rng, name)
            if spec.key() in seen:
                continue
            seen.add(spec.key())
            signs.append(spec)
            if derived:
                pairs.append((base.name, spec.name, param))
        return cls(signs, pairs, seed)

    # -- access
    def __len__(self) -> int:
        return len(self.signs)

    def __getitem__(self, key: int | str) -> SignSpec:
        if isinstance(key, int):
            return self.signs[key]
        for s in self.signs:
            if s.name == key:
                return s
        raise ConfigError(
            f"no sign class '{key}' in this vocabulary ({len(self)} classes: "
            f"{[s.name for s in self.signs[:5]]}...)"
        )

    @property
    def labels(self) -> list[str]:
        return [s.name for s in self.signs]

    # -- persistence
    def to_dict(self) -> dict:
        return {
            "seed": self.seed,
            "signs": [asdict(s) for s in self.signs],
            "minimal_pairs": [list(p) for p in self.minimal_pairs],
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "<dict>") -> Vocabulary:
        try:
            signs = [SignSpec(**s) for s in data["signs"]]
            pairs = [tuple(p) for p in data.get("minimal_pairs", [])]
        except (KeyError, TypeError) as e:
            raise DataError(f"not a synthetic vocabulary ({e})", source) from None
        return cls(signs, pairs, data.get("seed"))  # type: ignore[arg-type]

    def save(self, path: str | Path) -> None:
        save_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        p = Path(path)
        if not p.exists():
            raise DataError("vocabulary file does not exist", p)
        return cls.from_dict(read_json_file(p), str(p))
