"""Byte-level BPE: chunking, the incremental trainer against the direct loop, exact round trips,
special tokens, files, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.text.tokenization import (
    BPETokenizer,
    CharTokenizer,
    get_pair_counts,
    merge_pair,
    split_chunks,
    train_bpe,
    train_bpe_direct,
)

SAMPLE = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
          "naïve café — 😀👍🏽 e\u0301 日本語のテキスト 1234567 x_y += 3; it's we'll\t\ttabs\r\n") * 3


@pytest.fixture(scope="module")
def trained():
    return BPETokenizer(special_tokens=["<|endoftext|>", "<|pad|>"]).train(SAMPLE, 256 + 60 + 2)


@given(st.text(max_size=200))
def test_chunks_concatenate_to_any_text(text):
    assert "".join(split_chunks(text)) == text


@given(st.text(max_size=120))
def test_any_unicode_round_trips_exactly(text):
    tok = BPETokenizer().train(SAMPLE, 256 + 40 + 1)
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert all(0 <= i < tok.vocab_size for i in ids)


@given(st.lists(st.sampled_from(list("ab c\n😀é\u0301") + ["e\u0301", "👍🏽"]), max_size=40).map("".join))
def test_round_trip_with_emoji_and_combining_marks(text):
    tok = BPETokenizer().train("😀😀 éé e\u0301e\u0301 abab cab ab\n" * 4, 256 + 25 + 1)
    assert tok.decode(tok.encode(text)) == text


@settings(max_examples=40)
@given(st.text(st.sampled_from(list("aab c.\n") + ["ü", "😀"]), min_size=1, max_size=120),
       st.integers(1, 25))
def test_incremental_trainer_learns_the_direct_loops_merges(text, merges):
    assert train_bpe(text, merges) == train_bpe_direct(text, merges)


def test_incremental_trainer_on_real_text():
    assert train_bpe(SAMPLE, 80) == train_bpe_direct(SAMPLE, 80)


def test_pair_counts_and_merges():
    assert get_pair_counts([[1, 2, 1, 2], [1]]) == {(1, 2): 2, (2, 1): 1}
    assert merge_pair([1, 1, 1, 1], (1, 1), 5) == [5, 5]
    assert merge_pair([], (1, 1), 5) == [] and merge_pair([1], (1, 1), 5) == [1]


def test_encoding_applies_merges_by_rank(trained):
    tok = trained
    for chunk in ["speak", " speak", "Citizen"]:
        ids = tok.encode(chunk)
        assert b"".join(tok.pieces[i] for i in ids) == chunk.encode()
    assert len(tok.encode(" speak")) <= 2, "a frequent word of the training text becomes one or two tokens"
    greedy = list(" Speak".encode())
    for rank, pair in enumerate(tok.merges):
        greedy = merge_pair(greedy, pair, 256 + rank)
    assert tok.encode(" Speak") == greedy, "applying every merge in training order gives the same ids"


def test_vocabulary_layout(trained):
    tok = trained
    assert tok.vocab_size == 256 + len(tok.merges) + 2 == 318
    assert tok.special_ids == {"<|endoftext|>": 316, "<|pad|>": 317}
    assert [tok.pieces[i] for i in range(3)] == [b"\x00", b"\x01", b"\x02"]


def test_special_tokens_are_single_ids(trained):
    tok = trained
    text = "<|endoftext|>Speak.<|pad|><|pad|>x<|endoftext|>"
    ids = tok.encode(text)
    assert ids[0] == 316 and ids[-1] == 316 and ids.count(317) == 2
    assert tok.decode(ids) == text
    plain = tok.encode(text, special=False)
    assert 316 not in plain and 317 not in plain and tok.decode(plain) == text


def test_specials_are_matched_longest_first():
    tok = BPETokenizer(special_tokens=["<a>", "<a><b>"]).train("hello world", 256 + 3 + 2)
    assert tok.encode("<a><b>") == [tok.special_ids["<a><b>"]]
    assert tok.encode("<a>x") == [tok.special_ids["<a>"], ord("x")]


def test_training_never_learns_special_token_text():
    tok = BPETokenizer(special_tokens=["<|endoftext|>"]).train("<|endoftext|>" * 50 + "ab", 256 + 10 + 1)
    assert all(b"|" not in tok.pieces[256 + k] for k in range(len(tok.merges)))


def test_no_special_tokens_and_early_stop():
    tok = BPETokenizer(special_tokens=[]).train("abab", 300)
    assert tok.vocab_size == 256 + len(tok.merges) and len(tok.merges) < 44, "stops when no pair is left"
    assert tok.decode(tok.encode("abab ba")) == "abab ba"


def test_decoding_cut_characters_gives_replacement_characters():
    tok = BPETokenizer(special_tokens=[]).train("x", 256)
    ids = tok.encode("😀")
    assert len(ids) == 4 and tok.decode(ids[:2]) == "\ufffd" and tok.decode_bytes(ids[:2]) == "😀".encode()[:2]


def test_save_load_round_trip(tmp_path, trained):
    path = tmp_path / "bpe.json"
    trained.save(path)
    back = BPETokenizer.load(path)
    assert back.merges == trained.merges and back.special_tokens == trained.special_tokens
    assert back.encode(SAMPLE) == trained.encode(SAMPLE)
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert payload["kind"] == "BPETokenizer" and payload["version"] == 1
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


def _corrupt(payload: dict, **changes) -> bytes:
    return json.dumps({**payload, **changes}).encode()


@pytest.mark.parametrize("mutate, message", [
    (lambda good: good[: len(good) // 2], "corrupt JSON"),
    (lambda good: b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
    (lambda good: b'"just a string"', "not a TinyTorch tokenizer"),
    (lambda good: _corrupt(json.loads(good), version=2), "format version 2"),
    (lambda good: _corrupt(json.loads(good), pattern="."), "another pre-split pattern"),
    (lambda good: _corrupt(json.loads(good), merges=[[1, 2], [2, 300]]), "merge 1 is"),
    (lambda good: _corrupt(json.loads(good), merges=[[1, 2, 3]]), "merge 0 is"),
    (lambda good: _corrupt(json.loads(good), merges=[["a", "b"]]), "merge 0 is"),
    (lambda good: _corrupt(json.loads(good), merges={"0": [1, 2]}), "'merges' list"),
    (lambda good: _corrupt(json.loads(good), special_tokens=["x", "x"]), "invalid special tokens"),
    (lambda good: _corrupt(json.loads(good), special_tokens=[""]), "invalid special tokens"),
])
def test_corrupt_files_are_clear_errors(tmp_path, trained, mutate, message):
    good_path = tmp_path / "good.json"
    trained.save(good_path)
    bad = tmp_path / "bad.json"
    bad.write_bytes(mutate(good_path.read_bytes()))
    with pytest.raises(ValueError, match=message):
        BPETokenizer.load(bad)


def test_a_char_tokenizer_file_is_not_bpe(tmp_path):
    path = tmp_path / "chars.json"
    CharTokenizer.from_text("abc").save(path)
    with pytest.raises(ValueError, match="'CharTokenizer' tokenizer, expected 'BPETokenizer'"):
        BPETokenizer.load(path)


def test_bad_arguments(trained):
    with pytest.raises(ValueError, match="vocab_size must be at least 258 .*got 255"):
        BPETokenizer(special_tokens=["<a>", "<b>"]).train("abc", 255)
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        BPETokenizer().train("abc", 300.0)
    with pytest.raises(TypeError, match="text must be a str"):
        BPETokenizer().train(b"abc", 300)
    with pytest.raises(TypeError, match="text must be a str"):
        trained.encode(None)
    with pytest.raises(ValueError, match="not valid Unicode.*position 1"):
        trained.encode("a\ud800")
    with pytest.raises(ValueError, match=r"ids\[2\] = 318 is not a token id .*0\.\.317"):
        trained.decode([1, 2, 318])
    with pytest.raises(ValueError, match=r"ids\[0\] = -5"):
        trained.decode(np.array([-5]))
    with pytest.raises(TypeError, match="special_tokens must be a list"):
        BPETokenizer(special_tokens="<|endoftext|>")
    assert BPETokenizer(special_tokens=None).vocab_size == 256
    with pytest.raises(ValueError, match=r"special_tokens\[0\] must be a non-empty str of valid Unicode"):
        BPETokenizer(special_tokens=["\ud800"])
    with pytest.raises(TypeError, match="special must be True or False"):
        trained.encode("x", special="yes")


@pytest.mark.parametrize("trainer", [train_bpe, train_bpe_direct])
def test_trainers_check_their_arguments(trainer):
    with pytest.raises(ValueError, match="num_merges must be a non-negative int, got -1"):
        trainer("abc", -1)
    with pytest.raises(TypeError, match="text must be a str"):
        trainer(["abc"], 3)
    assert trainer("abc", 0) == []


def test_special_tokens_split_the_training_text():
    tok = BPETokenizer().train("ab<|endoftext|>ab<|endoftext|>ab", 256 + 5 + 1)
    assert tok.merges == [(97, 98)], "the pieces are trained apart: 'ab' three times, no pair across a marker"
