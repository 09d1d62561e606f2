"""CharTokenizer: vocabulary, vectorized encoding, the unknown-character policy, files, bad input."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinytorch.core.tensor import Tensor
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer


@given(st.text(st.characters(), min_size=1, max_size=60))
def test_any_text_round_trips_through_its_own_vocabulary(text):
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    assert len(ids) == len(text) and tok.decode(ids) == text
    assert tok.vocab == sorted(set(text))
    assert tok.encode_array(text).dtype == np.int64


def test_ids_are_positions_in_the_given_vocabulary():
    tok = CharTokenizer(["z", "a", "😀", "\n"])
    assert tok.encode("a😀z\n") == [1, 2, 0, 3]
    assert tok.decode(np.array([3, 0], dtype=np.uint8)) == "\nz"
    assert tok.decode(Tensor(np.array([2, 1]))) == "😀a"
    assert tok.vocab_size == 4


def test_matches_a_dictionary_lookup_on_real_text():
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 50
    tok = CharTokenizer.from_text(text)
    lookup = {ch: i for i, ch in enumerate(tok.vocab)}
    assert tok.encode(text) == [lookup[ch] for ch in text]


@pytest.mark.parametrize("text, char, position", [("abz", "z", 2), ("€ab", "€", 0), ("ab\U0010ffff", "\U0010ffff", 2),
                                                  ("a\x00", "\x00", 1)])
def test_unknown_characters_raise_naming_character_and_position(text, char, position):
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match=f"character {re.escape(repr(char))} at position {position} "):
        tok.encode(text)


def test_unknown_count_is_reported():
    with pytest.raises(ValueError, match="3 unknown"):
        CharTokenizer.from_text("ab").encode("axyz")


def test_unk_replaces_unknown_characters_and_joins_the_vocabulary():
    tok = CharTokenizer.from_text("hello", unk="?")
    assert tok.vocab[-1] == "?" and tok.unk_id == tok.vocab_size - 1
    assert tok.decode(tok.encode("help €")) == "hel???"
    already = CharTokenizer(["?", "a"], unk="?")
    assert already.vocab == ["?", "a"] and already.encode("b") == [0]


def test_save_and_load_round_trip(tmp_path):
    tok = CharTokenizer.from_text("Shall I compare thee 😀", unk="~")
    path = tmp_path / "chars.json"
    tok.save(path)
    back = CharTokenizer.load(path)
    assert back.vocab == tok.vocab and back.unk == "~" and back.encode("thee?") == tok.encode("thee?")
    assert json.loads(path.read_text(encoding="utf-8"))["kind"] == "CharTokenizer"
    assert not list(tmp_path.glob("*.tmp")), "the atomic write leaves no temporary file behind"


@pytest.mark.parametrize("content, message", [
    (b'{"kind": "CharTokenizer", "vocab": ["a"', "corrupt JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"[1, 2, 3]", "not a TinyTorch tokenizer"),
    (b'{"kind": "CharTokenizer", "version": 99, "vocab": ["a"]}', "version 99"),
    (b'{"kind": "CharTokenizer", "version": 1, "vocab": ["a", "a"]}', "repeat"),
    (b'{"kind": "CharTokenizer", "version": 1, "vocab": ["ab"]}', "single character"),
    (b'{"kind": "CharTokenizer", "version": 1}', "'vocab'"),
])
def test_corrupt_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        CharTokenizer.load(path)


def test_a_bpe_file_is_not_a_char_tokenizer(tmp_path):
    path = tmp_path / "bpe.json"
    BPETokenizer().train("abababab", 260).save(path)
    with pytest.raises(ValueError, match="'BPETokenizer' tokenizer, expected 'CharTokenizer'"):
        CharTokenizer.load(path)
    with pytest.raises(FileNotFoundError, match="no tokenizer file"):
        CharTokenizer.load(tmp_path / "missing.json")


def test_bad_arguments():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(TypeError, match="text must be a str.*decode"):
        tok.encode(b"abc")
    with pytest.raises(TypeError, match="text must be a str"):
        CharTokenizer.from_text(["a"])
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer.from_text("")
    with pytest.raises(ValueError, match=r"ids\[1\] = 3 .*0\.\.2"):
        tok.decode([0, 3])
    with pytest.raises(ValueError, match=r"ids\[0\] = -1"):
        tok.decode([-1])
    with pytest.raises(TypeError, match="integer token ids, got dtype float"):
        tok.decode(np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="integer token ids, got dtype float64"):
        tok.decode([1, 1.5])
    with pytest.raises(TypeError, match="integer token ids, got dtype bool"):
        tok.decode([True])
    with pytest.raises(TypeError, match="integer token ids, got dtype object"):
        tok.decode([1, None])
    with pytest.raises(ValueError, match="1-D"):
        tok.decode(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="unk must be None or a single character"):
        CharTokenizer("ab", unk="??")
    with pytest.raises(TypeError, match="vocab must be a str or a list"):
        CharTokenizer(42)
