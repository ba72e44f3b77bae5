"""Handshape templates: 20 finger-joint angles each (see ``skeleton.ANGLE_NAMES``).

Named after common sign-language handshapes (ASL letters and numbers, HamNoSys shapes).
Per finger the four numbers are ``(mcp, pip, dip, abduct)`` in degrees (flexion towards
the palm; abduction towards the thumb), for the thumb ``(spread, abduct, mcp, ip)``:
``spread`` turns the thumb away from the index in the palm plane, ``abduct`` lifts it in
front of the palm, ``mcp``/``ip`` bend it across the palm.
"""

from __future__ import annotations

import numpy as np

from signssl.errors import ConfigError

Finger = tuple[float, float, float, float]
Thumb = tuple[float, float, float, float]

# finger states (abduction 0 = the natural fan)
EXT: Finger = (0, 0, 0, 0)
FIST: Finger = (88, 100, 55, 0)
HOOK: Finger = (10, 95, 70, 0)  # bent at the middle joints
FLAT_BENT: Finger = (80, 5, 5, 0)  # bent at the knuckle only
CLAW: Finger = (25, 65, 55, 0)
CURVE: Finger = (35, 40, 25, 0)  # C
ROUND: Finger = (55, 60, 35, 0)  # O
TUCK: Finger = (70, 20, 10, 0)  # flat-O fingers

# thumb states
T_SIDE: Thumb = (18, 8, 5, 0)  # along the index (A, B)
T_OUT: Thumb = (70, 15, 0, 0)  # spread out (L, 5, Y)
T_ACROSS: Thumb = (15, 40, 45, 35)  # across the palm (4, B folded)
T_OVER: Thumb = (30, 35, 40, 25)  # over the curled fingers (S, 1, V)
T_OPPOSED: Thumb = (45, 55, 15, 15)  # C
T_TOUCH: Thumb = (35, 55, 25, 25)  # O, F, flat-O: meets the fingertips
T_BETWEEN: Thumb = (25, 40, 15, 5)  # K: between index and middle

_TOG = (-5.0, 0.0, 5.0, 11.0)  # abduction that closes the natural fan
_SPREAD = (12.0, 0.0, -10.0, -16.0)  # abduction that opens it further


def _hand(
    fingers: tuple[Finger, Finger, Finger, Finger],
    thumb: Thumb,
    spread: tuple[float, ...] | None = None,
) -> tuple[float, ...]:
    vals: list[float] = []
    for i, f in enumerate(fingers):
        ab = f[3] + (spread[i] if spread is not None else 0.0)
        vals += [f[0], f[1], f[2], ab]
    return tuple(vals) + tuple(thumb)


#: name -> 20 angles in degrees
HANDSHAPES: dict[str, tuple[float, ...]] = {
    "B": _hand((EXT, EXT, EXT, EXT), T_SIDE, _TOG),
    "5": _hand((EXT, EXT, EXT, EXT), T_OUT, _SPREAD),
    "4": _hand((EXT, EXT, EXT, EXT), T_ACROSS, _SPREAD),
    "A": _hand((FIST, FIST, FIST, FIST), T_SIDE),
    "S": _hand((FIST, FIST, FIST, FIST), T_OVER),
    "1": _hand((EXT, FIST, FIST, FIST), T_OVER),
    "V": _hand((EXT, EXT, FIST, FIST), T_OVER, (12, -8, 0, 0)),
    "U": _hand((EXT, EXT, FIST, FIST), T_OVER, _TOG),
    "W": _hand((EXT, EXT, EXT, FIST), T_ACROSS, _SPREAD),
    "3": _hand((EXT, EXT, FIST, FIST), T_OUT, (12, -8, 0, 0)),
    "Y": _hand((FIST, FIST, FIST, EXT), T_OUT, (0, 0, 0, -16)),
    "I": _hand((FIST, FIST, FIST, EXT), T_OVER),
    "L": _hand((EXT, FIST, FIST, FIST), T_OUT),
    "C": _hand((CURVE, CURVE, CURVE, CURVE), T_OPPOSED, _TOG),
    "O": _hand((ROUND, ROUND, ROUND, ROUND), T_TOUCH, _TOG),
    "claw": _hand((CLAW, CLAW, CLAW, CLAW), (70, 30, 25, 30), _SPREAD),
    "bent_B": _hand((FLAT_BENT, FLAT_BENT, FLAT_BENT, FLAT_BENT), T_SIDE, _TOG),
    "X": _hand((HOOK, FIST, FIST, FIST), T_OVER),
    "F": _hand((ROUND, EXT, EXT, EXT), T_TOUCH, _SPREAD),
    "open_8": _hand((EXT, (60, 10, 5, 0), EXT, EXT), T_TOUCH, _SPREAD),
    "horns": _hand((EXT, FIST, FIST, EXT), T_OVER, (8, 0, 0, -14)),
    "ILY": _hand((EXT, FIST, FIST, EXT), T_OUT, (8, 0, 0, -14)),
    "K": _hand((EXT, (40, 5, 0, 0), FIST, FIST), T_BETWEEN, (10, -10, 0, 0)),
    "flat_O": _hand((TUCK, TUCK, TUCK, TUCK), T_TOUCH, _TOG),
    "baby_O": _hand((ROUND, FIST, FIST, FIST), T_TOUCH),
    "G": _hand(((75, 5, 0, 0), FIST, FIST, FIST), (10, 5, 5, 0)),
    "bent_V": _hand((CLAW, CLAW, FIST, FIST), T_OVER, (12, -8, 0, 0)),
    "bent_5": _hand(((55, 5, 0, 0),) * 4, T_OUT, _SPREAD),
}

#: the relaxed hand of the rest pose
RELAXED: tuple[float, ...] = _hand(((20, 25, 12, 0),) * 4, (25, 15, 10, 10))

#: handshapes a passive (non-dominant) hand takes in two-handed signs with a base hand
PASSIVE_HANDSHAPES: tuple[str, ...] = ("B", "5", "1", "S", "C", "bent_B")


def list_handshapes() -> list[str]:
    return list(HANDSHAPES)


def handshape_angles(name: str) -> np.ndarray:
    """The 20 angles of a handshape in radians ``(20,)``."""
    if name == "relaxed":
        return np.radians(np.asarray(RELAXED, np.float64))
    try:
        return np.radians(np.asarray(HANDSHAPES[name], np.float64))
    except KeyError:
        raise ConfigError(f"unknown handshape '{name}'; known: {list_handshapes()}") from None
