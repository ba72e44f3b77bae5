"""Sign classes and vocabularies: validity, minimal pairs, persistence, errors."""

from __future__ import annotations

from dataclasses import replace

import pytest

from signssl.errors import ConfigError, DataError, SignSSLError
from signssl.synth import LOCATIONS, MOVEMENTS, Signer, SignSpec, Vocabulary
from signssl.synth.phonology import location_point


def test_vocabulary_classes_distinct_and_minimal_pairs_differ_in_one_parameter() -> None:
    vocab = Vocabulary.sample(50, seed=3)
    assert len(vocab) == 50 and len(set(vocab.labels)) == 50
    assert len({s.key() for s in vocab.signs}) == 50
    params = {p for _, _, p in vocab.minimal_pairs}
    assert "handshape" in params and len(vocab.minimal_pairs) >= 20
    for a, b, param in vocab.minimal_pairs:
        assert vocab[a].differs_in(vocab[b]) == [param]


def test_vocabulary_covers_the_phonology() -> None:
    vocab = Vocabulary.sample(200, seed=0)
    assert {s.movement for s in vocab.signs} == set(MOVEMENTS)
    assert {s.hands for s in vocab.signs} == {"one", "symmetric", "alternating", "passive"}
    assert any(s.repeat > 1 for s in vocab.signs)
    assert any(s.handshape2 for s in vocab.signs) and any(s.location2 for s in vocab.signs)
    assert len({s.location for s in vocab.signs}) >= 15


def test_vocabulary_deterministic_and_round_trips(tmp_path) -> None:
    a, b = Vocabulary.sample(30, seed=5), Vocabulary.sample(30, seed=5)
    assert a.signs == b.signs and a.minimal_pairs == b.minimal_pairs
    assert Vocabulary.sample(30, seed=6).signs != a.signs
    a.save(tmp_path / "v.json")
    c = Vocabulary.load(tmp_path / "v.json")
    assert c.signs == a.signs and c.minimal_pairs == a.minimal_pairs


def test_bad_specs_and_files_raise_user_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="unknown handshape 'Q'"):
        SignSpec("x", handshape="Q")
    with pytest.raises(ConfigError, match="passive"):
        SignSpec("x", location="passive_palm")  # needs hands='passive'
    with pytest.raises(ConfigError, match="repeat"):
        SignSpec("x", repeat=9)
    with pytest.raises(ConfigError, match="no sign class 'nope'"):
        Vocabulary.sample(3)["nope"]
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="bad.json"):
        Vocabulary.load(tmp_path / "bad.json")
    with pytest.raises(SignSSLError):
        Vocabulary.sample(0)


def test_locations_are_where_their_names_say() -> None:
    s = Signer("s")
    chin, forehead, chest = (location_point(n, s) for n in ("chin", "forehead", "chest"))
    stomach, neutral = location_point("stomach", s), location_point("neutral", s)
    assert forehead[1] > chin[1] > chest[1] > stomach[1]
    assert location_point("cheek", s)[0] < 0 < location_point("contra_shoulder", s)[0]  # right = -X
    assert neutral[2] > chest[2] + 0.1  # neutral space is in front of the body
    far = replace(s, space=1.3)
    assert location_point("neutral", far)[2] > neutral[2]
    assert set(LOCATIONS) >= {"forehead", "chin", "chest", "neutral"}
