# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 10 — Tokenization: from text to integers
#
# Everything so far has eaten numbers: pixels, features, labels. A language model eats *text*,
# and a neural network cannot multiply a letter by a weight. Before the first embedding, every
# text is cut into pieces — **tokens** — and every piece is replaced by its number in a fixed
# **vocabulary**. That step decides how long every sequence is, how large the first and last
# layers of the model are, and what the model can even express. This module builds the two
# tokenizers the course needs, and the text corpora the GPT milestone trains on.
#
# **You will learn to**
#
# 1. explain the trade-off between characters, bytes, words and sub-words as tokens: vocabulary
#    size against sequence length, and what "unknown" means for each;
# 2. write a **character tokenizer** with a stated unknown-character policy, and make its encoder
#    vectorized, so a megabyte of text encodes in milliseconds;
# 3. write **byte-pair encoding** (BPE, as GPT-2 uses it) as the direct merge loop — count every
#    pair, merge the most frequent, repeat — and understand why the package trains it with
#    *incremental* pair counts instead;
# 4. make an encoder that round-trips **any** UTF-8 string exactly, with special tokens, and store
#    tokenizers as plain JSON (never pickle);
# 5. cut a long token stream into random `(batch, block)` training windows with one fancy index;
# 6. measure what a bigger vocabulary buys: fewer tokens per character, shorter sequences, a
#    quadratically cheaper attention — paid for with a larger embedding table.
#
# **Prerequisites:** module 01 (`Tensor`, `default_generator`), module 07 (atomic file writes),
# module 08 (checksums and the shipped `datasets/` folder). **Exports to:**
# `tinytorch/text/tokenization.py`, re-exported by `tinytorch.text`.

# %%
#| default_exp text.tokenization

# %%
#| export
from __future__ import annotations

import hashlib
import heapq
import json
import lzma
import numbers
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from tinytorch.core.data import (
    ChecksumError,
    DatasetNotFoundError,
    Resource,
    checksum_problem,
    data_root,
    shipped_folder,
)
from tinytorch.core.tensor import Tensor, default_generator
from tinytorch.core.training import _atomic_write

# %% [markdown]
# ## 1. Why tokenize, and into what?
#
# A language model learns `P(next token | previous tokens)`. Its input layer is a table with one
# row (an embedding vector) per vocabulary entry, and its output layer scores every entry. So we
# must choose the entries. Four natural choices, shown on the same phrase:
#
# ```
#  text:        "unhappily, naïve"
#
#  words        ["unhappily", ",", "naïve"]                        3 tokens   vocab: every word ever (millions)
#  characters   [u n h a p p i l y ,   n a ï v e]                16 tokens   vocab: the characters seen (~100)
#  UTF-8 bytes  [75 6e 68 61 70 70 69 6c 79 2c 20 6e 61 c3 af 76 65]
#                                                                 17 tokens   vocab: exactly 256
#  sub-words    ["un" "happ" "ily" "," " na" "ï" "ve"]             7 tokens   vocab: you choose (1k-100k)
#               (an illustrative split: the real one depends on the text BPE was trained on)
# ```
#
# - **Words** give short sequences, but the vocabulary is unbounded: a word missing from the table
#   ("naïvely", a name, a typo) has no id — the *unknown-word* problem — and rare words get
#   almost no training signal.
# - **Characters** give a tiny vocabulary and every word can be spelled, but sequences are long:
#   attention costs grow with the square of the length, and the model must learn spelling before
#   meaning. Still the right tool for a small model on one small corpus, which is why the
#   Shakespeare milestone is character-level.
# - **Bytes** are characters with nothing unknown: UTF-8 writes *every* string — any script, emoji,
#   control codes — as bytes 0..255. `ï` is two bytes (`c3 af`), an emoji four.
# - **Sub-words** (byte-pair encoding) start from bytes and *learn* longer pieces from data:
#   frequent words become one token, rare ones are spelled from smaller pieces, and nothing is ever
#   unknown. This is what GPT-2, GPT-4 and LLaMA use.
#
# The rest of the module builds the character tokenizer, then BPE, then the data pipeline.

# %% [markdown]
# ## 2. A character tokenizer
#
# The vocabulary is a list of distinct characters; a character's id is its position:
#
# ```
#  vocab = sorted(set("hello world"))  ->  [' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']
#           id:                              0    1    2    3    4    5    6    7
#  encode("hello") -> [3, 2, 4, 4, 5]          decode([7, 5, 6, 4, 1]) -> "world"
# ```
#
# **Unknown characters.** A character tokenizer built from Shakespeare has never seen `"é"` or
# `"€"`. Silently dropping them, or mapping them to id 0, corrupts data without a trace, so the
# default policy is to **raise**, naming the character and its position. When unknown characters
# are expected (user input to a chatbot), pass `unk="?"`: that character joins the vocabulary
# and stands in for anything unknown — the encoding is then lossy, and `decode(encode(s))` shows
# `?` where the unknown characters were.
#
# **Speed.** The obvious encoder is `[stoi[ch] for ch in text]`, one dictionary lookup per
# character. For a 1 MB corpus that is a million Python-level steps. The vectorized encoder never
# looks at a character in Python: every character is a **code point** (an integer, `ord(ch)`), so a
# lookup *table* indexed by code point replaces the dictionary:
#
# ```
#  vocab       [' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']     code points [32 100 101 104 108 111 114 119]
#  table       index:  0 .. 31  32  33 .. 99  100 101 102 103 104 .. 119
#              value: -1 .. -1   0  -1 .. -1    1   2  -1  -1   3 ..   7      (-1: not in the vocab)
#  text ──encode("utf-32-le")──► 4 bytes per character ──np.frombuffer──► code points (N,)
#  ids = table[code points]        one fancy index for the whole text; -1 marks an unknown character
# ```
#
# (Code points above the table's end are unknown too: clip them to the last entry for the lookup
# and mark them separately. The table has one entry per code point up to the largest one in the
# vocabulary — about a kilobyte for English text, at most 8.9 MB for a vocabulary that holds
# the very last Unicode code point.)
#
# Decoding is the reverse: `code points = vocab_codes[ids]`, then one `bytes.decode("utf-32-le")`.
# (Python strings may hold lone surrogates such as `"\ud800"`; the `surrogatepass` error handler
# lets them through both ways, so every `str` round-trips.)

# %%
#| export
TOKENIZER_FORMAT_VERSION = 1


def _check_text(text, where: str, name: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{where}: {name} must be a str, got {type(text).__name__}"
                        + ("; decode bytes first with .decode('utf-8')" if isinstance(text, bytes) else ""))
    return text


def _code_points(text: str) -> np.ndarray:
    """The Unicode code points of `text` as a (len(text),) uint32 array, without a Python loop."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _from_code_points(codes: np.ndarray) -> str:
    return np.ascontiguousarray(codes, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")


def _as_ids(ids, vocab_size: int, where: str, name: str = "ids") -> np.ndarray:
    """Token ids (list, tuple, ndarray or Tensor of integers) as a 1-D int64 array, checked against the vocab."""
    if isinstance(ids, Tensor):
        ids = ids.data
    try:
        array = np.asarray(ids)  # a list of ints becomes int64 without a Python-level check per id
    except (TypeError, ValueError) as error:
        raise TypeError(f"{where}: {name} must be a 1-D sequence of integer token ids ({error})") from None
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{where}: {name} must be integer token ids, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{where}: {name} must be a 1-D sequence of token ids, got shape {array.shape}")
    bad = np.flatnonzero((array < 0) | (array >= vocab_size))
    if bad.size:
        raise ValueError(f"{where}: {name}[{bad[0]}] = {array[bad[0]]} is not a token id of this tokenizer "
                         f"(valid ids are 0..{vocab_size - 1}); {bad.size} id(s) out of range")
    return array.astype(np.int64, copy=False)


def _is_utf8_text(text: str) -> bool:
    """False for strings UTF-8 cannot encode (lone surrogates such as '\ud800')."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _write_json(path, payload: dict) -> None:
    """Write `payload` as UTF-8 JSON atomically (a temporary file renamed into place)."""
    data = json.dumps(payload, ensure_ascii=False, indent=1).encode("utf-8")
    _atomic_write(path, lambda file: file.write(data))


def _read_json(path, kind: str, where: str) -> dict:
    """A tokenizer file's JSON object, after checking that it is one, of `kind`, in a known version."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: no tokenizer file at {path}") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{where}: {path} is not a tokenizer file (not UTF-8 text: {error})") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: {path} is not a valid tokenizer file: corrupt JSON ({error})") from None
    if not isinstance(payload, dict) or "kind" not in payload:
        raise ValueError(f"{where}: {path} is JSON but not a TinyTorch tokenizer file (no 'kind' entry)")
    if payload["kind"] != kind:
        raise ValueError(f"{where}: {path} holds a {payload['kind']!r} tokenizer, expected {kind!r}; "
                         f"load it with that class instead")
    if payload.get("version") != TOKENIZER_FORMAT_VERSION:
        raise ValueError(f"{where}: {path} has format version {payload.get('version')!r}, this TinyTorch reads "
                         f"version {TOKENIZER_FORMAT_VERSION}")
    return payload

# %%
#| export
class CharTokenizer:
    """One token per character: `vocab[i]` is the character with id i.

    CharTokenizer(vocab, unk=None): vocab is a str or a sequence of distinct one-character strings.
    CharTokenizer.from_text(text): the vocabulary is sorted(set(text)).
    Unknown characters raise ValueError (naming the character and its position) unless `unk` is
    given: a single character that is added to the vocabulary if missing and replaces every
    unknown character (lossy).
    """

    kind = "CharTokenizer"

    def __init__(self, vocab, unk: str | None = None):
        if isinstance(vocab, str):
            vocab = list(vocab)
        if not isinstance(vocab, (list, tuple)):
            raise TypeError(f"CharTokenizer: vocab must be a str or a list of characters, got {type(vocab).__name__}")
        for position, ch in enumerate(vocab):
            if not isinstance(ch, str) or len(ch) != 1:
                raise ValueError(f"CharTokenizer: vocab[{position}] must be a single character, got {ch!r}")
        if len(set(vocab)) != len(vocab):
            repeated = next(ch for ch, n in Counter(vocab).items() if n > 1)
            raise ValueError(f"CharTokenizer: vocab must not repeat characters, {repeated!r} appears "
                             f"{vocab.count(repeated)} times")
        if unk is not None:
            if not isinstance(unk, str) or len(unk) != 1:
                raise ValueError(f"CharTokenizer: unk must be None or a single character, got {unk!r}")
            if unk not in vocab:
                vocab = list(vocab) + [unk]
        if not vocab:
            raise ValueError("CharTokenizer: vocab is empty; build it from a non-empty text")
        self.vocab = list(vocab)
        self.unk = unk
        # Hint: self._codes = the vocabulary's code points in id order (_code_points("".join(vocab))).
        #       self._table: an int64 array of -1 with one entry per code point 0..max(self._codes), and
        #       self._table[self._codes] = the ids 0..vocab_size-1. If unk is set, keep its id in self.unk_id.
        ### BEGIN SOLUTION
        self._codes = _code_points("".join(self.vocab))
        self._table = np.full(int(self._codes.max()) + 1, -1, dtype=np.int64)
        self._table[self._codes] = np.arange(len(self.vocab))
        self.unk_id = self.vocab.index(unk) if unk is not None else None
        ### END SOLUTION

    @classmethod
    def from_text(cls, text: str, unk: str | None = None) -> CharTokenizer:
        """A tokenizer whose vocabulary is every distinct character of `text`, sorted."""
        _check_text(text, "CharTokenizer.from_text")
        if not text:
            raise ValueError("CharTokenizer.from_text: text is empty, so there is no character to put in the vocab")
        return cls(sorted(set(text)), unk=unk)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode_array(self, text: str) -> np.ndarray:
        """The ids of `text` as an int64 array (len(text),), vectorized. Raises on unknown characters."""
        _check_text(text, "CharTokenizer.encode")
        # Hint: codes = _code_points(text) gives one code point per character. A character is known
        #       when its code point is inside the table (codes < len(self._table)) and the table holds
        #       an id for it (not -1). Start with ids = -1 for every character, fill in the ones inside
        #       the table with one fancy index (self._table[codes[inside]]), and the positions still at
        #       -1 are the unknown characters: map them to self.unk_id if set, else raise ValueError
        #       naming the first one (repr), its position, and how many there are.
        ### BEGIN SOLUTION
        codes = _code_points(text)
        inside = codes < len(self._table)
        ids = np.full(len(codes), -1, dtype=np.int64)
        ids[inside] = self._table[codes[inside]]
        unknown = np.flatnonzero(ids < 0)
        if unknown.size:
            if self.unk_id is None:
                first = int(unknown[0])
                raise ValueError(f"CharTokenizer.encode: character {text[first]!r} at position {first} is not in "
                                 f"the vocabulary ({self.vocab_size} characters; {unknown.size} unknown "
                                 "character(s) in this text); build the tokenizer from text that contains it, "
                                 "or pass unk='?' to replace unknown characters")
            ids[unknown] = self.unk_id
        return ids
        ### END SOLUTION

    def encode(self, text: str) -> list:
        """The ids of `text`, one per character: a list of ints."""
        return self.encode_array(text).tolist()

    def decode(self, ids) -> str:
        """The text of `ids` (list, ndarray or integer Tensor). Raises on ids outside 0..vocab_size-1."""
        # Hint: check the ids with _as_ids(ids, self.vocab_size, "CharTokenizer.decode"), look their code
        #       points up in self._codes with one fancy index and turn them back into a str.
        ### BEGIN SOLUTION
        return _from_code_points(self._codes[_as_ids(ids, self.vocab_size, "CharTokenizer.decode")])
        ### END SOLUTION

    def save(self, path) -> None:
        """Write the vocabulary as JSON (atomically)."""
        _write_json(path, {"kind": self.kind, "version": TOKENIZER_FORMAT_VERSION, "vocab": self.vocab,
                           "unk": self.unk})

    @classmethod
    def load(cls, path) -> CharTokenizer:
        """Read a file written by save(); a corrupt file or one of another kind is a ValueError."""
        payload = _read_json(path, cls.kind, "CharTokenizer.load")
        vocab, unk = payload.get("vocab"), payload.get("unk")
        if not isinstance(vocab, list):
            raise ValueError(f"CharTokenizer.load: {path} has no 'vocab' list")
        try:
            return cls(vocab, unk=unk)
        except (TypeError, ValueError) as error:
            raise ValueError(f"CharTokenizer.load: {path} holds an invalid vocabulary: {error}") from None

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}" + (f", unk={self.unk!r})" if self.unk else ")")

# %%
#| test
def test_unit_char_tokenizer():
    tok = CharTokenizer.from_text("hello world")
    assert tok.vocab == [" ", "d", "e", "h", "l", "o", "r", "w"], (
        f"from_text should use sorted(set(text)) as the vocabulary, got {tok.vocab}")
    assert tok.encode("hello") == [3, 2, 4, 4, 5], (
        f"encode('hello') should be [3, 2, 4, 4, 5], got {tok.encode('hello')}")
    assert tok.decode([7, 5, 6, 4, 1]) == "world", "decode should look each id up in the vocabulary"
    assert tok.encode_array("").shape == (0,) and tok.decode([]) == "", "the empty string has no tokens"
    shuffled = CharTokenizer("wrold eh")  # a vocabulary in any order: ids are positions in *this* list
    assert shuffled.encode("hello") == [7, 6, 3, 3, 2] and shuffled.decode(shuffled.encode("world")) == "world", (
        f"ids are positions in the vocabulary as given: in 'wrold eh', 'h' is 7; got {shuffled.encode('hello')}")
    try:
        tok.encode("help")
    except ValueError as error:
        assert "'p'" in str(error) and "position 3" in str(error), (
            f"the unknown-character error should name the character 'p' and its position 3, got: {error}")
    else:
        raise AssertionError("encoding 'p', which is not in the vocabulary, must raise ValueError")
    lossy = CharTokenizer.from_text("hello world", unk="?")
    assert lossy.decode(lossy.encode("help!")) == "hel??", "with unk='?' unknown characters become '?'"
    emoji = CharTokenizer.from_text("a😀\u0301\ud800")
    assert emoji.decode(emoji.encode("😀a\ud800\u0301")) == "😀a\ud800\u0301", "any str round-trips, even surrogates"
    print("✅ CharTokenizer: sorted vocabulary, vectorized encode, decode, unknown characters raise or become unk")


test_unit_char_tokenizer()

# %% [markdown]
# ## 3. Bytes: a vocabulary where nothing is unknown
#
# UTF-8 writes each Unicode character as 1 to 4 bytes. ASCII stays one byte, so English text
# barely grows; other scripts and emoji take more:
#
# ```
#  "a"   U+0061  -> 61                   1 byte
#  "é"   U+00E9  -> c3 a9                2 bytes
#  "€"   U+20AC  -> e2 82 ac             3 bytes
#  "😀"  U+1F600 -> f0 9f 98 80          4 bytes
#  "é" can also be written "e" + U+0301 (a combining accent) -> 65 cc 81: same look, other bytes
# ```
#
# So bytes make a perfect base vocabulary: exactly 256 tokens, and every string — whatever its
# script — is a sequence of them. Decoding is `bytes(ids).decode("utf-8")`. The price is length:
# a byte-level model reads ~4x more tokens than a word-level one on English, and far more on
# Chinese. Byte-pair encoding keeps the "nothing is unknown" property and wins the length back.

# %%
for sample in ["a", "é", "€", "😀", "e\u0301"]:
    encoded = sample.encode("utf-8")
    print(f"{sample!r:>12} -> {len(encoded)} byte(s): {' '.join(f'{b:02x}' for b in encoded)}")

# %% [markdown]
# ## 4. Byte-pair encoding, the direct way
#
# BPE (Sennrich et al. 2016, used byte-level by GPT-2) builds a vocabulary by repeatedly gluing
# together the most frequent adjacent pair of tokens:
#
# ```
#  text "aaab aab", in two chunks (see below):  [a a a b]  [_ a a b]        (_ is the space, 32)
#  counts: (a,a)=3  (a,b)=2  (_,a)=1            overlapping pairs count: "aaa" holds (a,a) twice
#  merge 1: (a,a) -> 256                        [256 a b]  [_ 256 b]
#  counts: (256,a)=1 (a,b)=1 (_,256)=1 (256,b)=1   a four-way tie
#  merge 2: (_,256) -> 257 (the smallest pair)  [256 a b]  [257 b]
# ```
#
# Each merge adds one token and shortens the text. Training stops when the vocabulary has the
# size we asked for. **Encoding** new text replays the merges in the order they were learned;
# **decoding** concatenates each token's bytes — a token is just a byte string such as `b" the"`.
#
# Two details decide the result, so we fix them precisely:
#
# - **Ties.** Several pairs can share the top count. We pick the *smallest* pair (compare the
#   first id, then the second), so the outcome never depends on dictionary order.
# - **Chunks.** Like GPT-2, we first split the text into chunks — a word with its leading space,
#   a run of digits, a run of punctuation, whitespace — and never merge across a chunk boundary.
#   Without that, BPE happily learns tokens like `"e. T"` that glue the end of a sentence to the
#   next one, wasting vocabulary on accidents of the corpus.
#
# ```
#  "Hello, world!  It's 2024."  ->  ["Hello", ",", " world", "!", " ", " It", "'s", " 2024", "."]
# ```
#
# Our pattern (Python's `re`, so "letter" means any Unicode letter) is below; the chunks always
# concatenate back to the exact text, whatever it contains. Then you write the direct training
# loop in three small functions: count the pairs, merge one pair, and the loop.

# %%
#| export
# Alternatives, tried in order: an English contraction ('s 't 're 've 'm 'll 'd); letters with an
# optional leading space; digits likewise; anything else that is not whitespace (punctuation, `_`,
# emoji, combining marks) likewise; a whitespace run not followed by a non-space (so the last space
# before a word stays with the word); any other whitespace. Every character matches one of them,
# so the chunks concatenate back to the text exactly.
SPLIT_PATTERN = r"'(?:s|t|re|ve|m|ll|d)| ?[^\W\d_]+| ?\d+| ?(?:[^\w\s]|_)+|\s+(?!\S)|\s+"
_SPLIT = re.compile(SPLIT_PATTERN)


def _check_merges(num_merges, where: str) -> int:
    if isinstance(num_merges, bool) or not isinstance(num_merges, numbers.Integral) or num_merges < 0:
        raise ValueError(f"{where}: num_merges must be a non-negative int, got {num_merges!r}")
    return int(num_merges)


def split_chunks(text: str) -> list:
    """The pre-tokenization chunks of `text` (BPE never merges across them); ''.join(chunks) == text."""
    return _SPLIT.findall(_check_text(text, "split_chunks"))


def get_pair_counts(chunks: list) -> dict:
    """{(a, b): number of times token a is directly followed by token b}, over every chunk.

    chunks: a list of lists of token ids. Pairs never span two chunks.
    """
    # Hint: zip(ids, ids[1:]) walks over the adjacent pairs of one chunk.
    ### BEGIN SOLUTION
    counts = {}
    for ids in chunks:
        for pair in zip(ids, ids[1:]):
            counts[pair] = counts.get(pair, 0) + 1
    return counts
    ### END SOLUTION


def merge_pair(ids: list, pair: tuple, new_id: int) -> list:
    """`ids` with every occurrence of `pair`, scanned left to right, replaced by `new_id`.

    merge_pair([1, 1, 1, 2], (1, 1), 9) == [9, 1, 2]: occurrences do not overlap.
    """
    # Hint: walk with an index i; when ids[i], ids[i + 1] equal the pair, append new_id and jump by 2,
    #       otherwise append ids[i] and step by 1.
    ### BEGIN SOLUTION
    first, second = pair
    merged, i, n = [], 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == first and ids[i + 1] == second:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged
    ### END SOLUTION


def train_bpe_direct(text: str, num_merges: int) -> list:
    """The first `num_merges` BPE merges of `text`, recounting every pair before every merge.

    Returns [(a, b), ...]: merge k created token 256 + k from tokens a and b. Ties go to the
    smallest pair. Stops early when no pair is left. O(num_merges x len(text)): the teaching
    version and the test oracle of the fast trainer.
    """
    _check_text(text, "train_bpe_direct")
    num_merges = _check_merges(num_merges, "train_bpe_direct")
    chunks = [list(chunk.encode("utf-8")) for chunk in split_chunks(text)]
    # Hint: repeat num_merges times: counts = get_pair_counts(chunks); stop if it is empty; best =
    #       min(counts, key=lambda pair: (-counts[pair], pair)) is the most frequent, smallest pair;
    #       merge it everywhere into token 256 + (merges so far) and record it.
    ### BEGIN SOLUTION
    merges = []
    for step in range(num_merges):
        counts = get_pair_counts(chunks)
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        chunks = [merge_pair(ids, best, 256 + step) for ids in chunks]
        merges.append(best)
    return merges
    ### END SOLUTION

# %%
#| test
def test_unit_direct_bpe():
    assert "".join(split_chunks("Hello, world!  It's 2024.\n\n")) == "Hello, world!  It's 2024.\n\n", (
        "the chunks must concatenate back to the text")
    assert split_chunks("Hello, world!  It's 2024.") == ["Hello", ",", " world", "!", " ", " It", "'s", " 2024", "."]
    counts = get_pair_counts([[1, 1, 1, 2], [2, 1]])
    assert counts == {(1, 1): 2, (1, 2): 1, (2, 1): 1}, (
        f"pairs are counted inside each chunk, overlapping ones too: expected {{(1, 1): 2, (1, 2): 1, (2, 1): 1}}, "
        f"got {counts}")
    assert merge_pair([1, 1, 1, 2], (1, 1), 9) == [9, 1, 2], "merging scans left to right and never overlaps"
    assert merge_pair([3, 1, 2, 1, 2], (1, 2), 9) == [3, 9, 9]
    merges = train_bpe_direct("aaab aab", 3)
    a, b, space = ord("a"), ord("b"), ord(" ")
    assert merges[0] == (a, a), f"the most frequent pair of 'aaab aab' is ('a', 'a'), got {merges[0]}"
    assert merges[1] == (space, 256), (
        f"after merge 1 the chunks are [256, a, b] and [' ', 256, b]: (256, a), (a, b), (' ', 256), (256, b) "
        f"each appear once, and the smallest pair, (32, 256), wins the tie; got {merges[1]}")
    assert (b, space) not in get_pair_counts([list(c.encode()) for c in split_chunks("aaab aab")]), (
        "pairs never span two chunks: 'b' ends one chunk and ' ' starts the next")
    assert len(train_bpe_direct("ab", 5)) == 1, "training stops when no pair is left"
    print(f"✅ direct BPE: chunks, pair counts, non-overlapping merges, tie-breaking; merges of 'aaab aab': {merges}")


test_unit_direct_bpe()

# %% [markdown]
# Watch it on a real sentence: each line is one merge, the new token's bytes, and how many
# tokens the text needs afterwards.

# %%
demo = "the cat sat on the mat; the cat ate the rat. then the cat sat."
demo_merges = train_bpe_direct(demo, 8)
pieces = {i: bytes([i]) for i in range(256)}
demo_chunks = [list(chunk.encode()) for chunk in split_chunks(demo)]
print(f"start: {sum(map(len, demo_chunks))} byte tokens")
for step, (left, right) in enumerate(demo_merges):
    pieces[256 + step] = pieces[left] + pieces[right]
    demo_chunks = [merge_pair(ids, (left, right), 256 + step) for ids in demo_chunks]
    print(f"merge {step + 1}: {pieces[left]!r} + {pieces[right]!r} -> {256 + step} = {pieces[256 + step]!r:10} "
          f"{sum(map(len, demo_chunks))} tokens")

# %% [markdown]
# ## 5. Training fast: incremental pair counts
#
# The direct loop recounts every pair of the whole text before each merge: 1,000 merges on the
# 1.1 MB Shakespeare text would walk over a million tokens a thousand times. Two observations
# make it fast (they are how real BPE trainers work):
#
# 1. **Repeated chunks are processed once.** Shakespeare splits into 297,833 chunks but only
#    15,057 distinct ones (`" the"` alone appears 5,370 times, `"\n"` 39,996). Count the distinct
#    chunks and weight every pair by its chunk's count.
# 2. **A merge changes only the chunks that contain the pair.** Keep the pair counts between
#    merges, plus, for each pair, the set of chunks it occurs in. To merge `(a, b)`: visit only
#    those chunks, subtract the counts of their old pairs, merge, add the counts of their new
#    pairs. Everything else stays as it was.
#
# Finding the most frequent pair is the last cost: scanning all pair counts each time is slow, so
# the counts live in a **heap** keyed by `(-count, pair)` — which also implements our tie rule.
# A count that changes is pushed again; an entry popped with an out-of-date count is ignored
# ("lazy deletion").
#
# ```
#  distinct chunks with counts        pair -> count          pair -> chunks        heap
#  " the"  x5370  [32,116,104,101]    (116,104): n1          (116,104): {0, 17,..} (-n1, (116,104))
#  " that" x...   [32,116,104,97,116] (32,116):  n2          ...                   (-n2, (32,116)) ...
#                         merge (116,104) -> 256: visit chunks {0, 17, ...} only
# ```
#
# The result is *identical* to the direct loop — the tests check it on random texts — only the
# amount of work differs.

# %%
#| export
def train_bpe(text: str, num_merges: int) -> list:
    """The same merges as train_bpe_direct(text, num_merges), with incremental pair counts.

    Distinct chunks are processed once (weighted by their count); a merge visits only the chunks
    that contain its pair; a heap of (-count, pair) finds the next pair. Ties go to the smallest pair.
    """
    _check_text(text, "train_bpe")
    return _train_on_chunks(Counter(split_chunks(text)), _check_merges(num_merges, "train_bpe"))


def _train_on_chunks(chunk_counts: Counter, num_merges: int) -> list:
    """train_bpe's work, on {chunk: count}; chunks are never merged with each other."""
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
    freqs = list(chunk_counts.values())
    counts = defaultdict(int)
    where = defaultdict(set)  # pair -> indices of the words it occurs in (may keep stale entries)
    for index, (ids, freq) in enumerate(zip(words, freqs)):
        for pair in zip(ids, ids[1:]):
            counts[pair] += freq
            where[pair].add(index)
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < num_merges and heap:
        negative, pair = heapq.heappop(heap)
        if counts.get(pair, 0) != -negative or -negative <= 0:
            continue  # stale: the count changed after this entry was pushed
        new_id = 256 + len(merges)
        merges.append(pair)
        changed = set()
        for index in where.pop(pair):
            ids, freq = words[index], freqs[index]
            merged = merge_pair(ids, pair, new_id)
            if len(merged) == len(ids):
                continue  # a stale entry: this word no longer holds the pair
            for old in zip(ids, ids[1:]):
                counts[old] -= freq
                changed.add(old)
            for new in zip(merged, merged[1:]):
                counts[new] += freq
                where[new].add(index)
                changed.add(new)
            words[index] = merged
        for touched in changed:
            count = counts[touched]
            if count > 0:
                heapq.heappush(heap, (-count, touched))
            else:
                del counts[touched]
    return merges

# %%
#| test
def test_unit_fast_bpe_matches_direct():
    rng = np.random.default_rng(0)
    texts = ["aaab aab", "the cat sat on the mat; the cat ate the rat. then the cat sat.",
             "".join(rng.choice(list("ab c\n"), 400)), "naïve café 😀😀 über, ünder; 1234 1234"]
    for text in texts:
        direct, fast = train_bpe_direct(text, 30), train_bpe(text, 30)
        assert fast == direct, (
            f"the fast trainer must learn exactly the direct loop's merges on {text[:30]!r}...: first difference "
            f"at merge {next(i for i, (d, f) in enumerate(zip(direct + [None], fast + [None])) if d != f)}")
    print("✅ train_bpe (incremental counts, heap) learns exactly the same merges as the direct loop")


test_unit_fast_bpe_matches_direct()

# %% [markdown]
# ## 6. The BPE tokenizer
#
# `BPETokenizer` wraps the merges into a tokenizer:
#
# - **vocabulary:** ids 0..255 are the bytes, 256.. the merges in training order, then the special
#   tokens. `vocab_size = 256 + merges + specials`, and `train(text, vocab_size)` learns
#   `vocab_size − 256 − specials` merges.
# - **encode:** split into chunks; in each chunk, repeatedly apply the *earliest-learned* merge
#   that occurs (the lowest rank), until none does. Chunks repeat, so their encodings are cached.
# - **special tokens** such as `"<|endoftext|>"` mark document boundaries. Their text must never
#   be split into ordinary tokens, so `encode` first cuts the text at every special token and
#   maps each to its single id. (`encode(text, special=False)` treats them as ordinary text —
#   what you want for untrusted input that might *contain* the marker.)
# - **decode:** concatenate each id's bytes and decode UTF-8. A sequence the encoder produced
#   always decodes exactly; an arbitrary sequence of valid ids may cut a character in half (the
#   4 bytes of an emoji in two tokens), which decodes to `"\ufffd"`, as GPT-2 does; ids the
#   tokenizer never made are an error.
# - **files:** JSON with the merges and special tokens; nothing is ever unpickled.

# %%
#| export
class BPETokenizer:
    """Byte-level byte-pair encoding (GPT-2 style): 256 byte tokens, learned merges, special tokens.

    tok = BPETokenizer(special_tokens=("<|endoftext|>",)).train(text, vocab_size=1000)
    tok.encode(str) -> list[int]; tok.decode(ids) -> str; decode(encode(s)) == s for every str s
    that is valid UTF-8 text (no lone surrogates). Special tokens get the last ids.
    """

    kind = "BPETokenizer"

    def __init__(self, special_tokens=("<|endoftext|>",)):
        if isinstance(special_tokens, str):
            raise TypeError("BPETokenizer: special_tokens must be a list of strings, got one str; "
                            f"write special_tokens=[{special_tokens!r}]")
        specials = list(special_tokens) if special_tokens is not None else []
        for position, token in enumerate(specials):
            if not isinstance(token, str) or not token or not _is_utf8_text(token):
                raise ValueError(f"BPETokenizer: special_tokens[{position}] must be a non-empty str of valid "
                                 f"Unicode, got {token!r}")
        if len(set(specials)) != len(specials):
            raise ValueError(f"BPETokenizer: special_tokens repeat a token: {specials}")
        self.special_tokens = specials
        self._set_merges([])

    def _set_merges(self, merges: list) -> None:
        self.merges = [tuple(pair) for pair in merges]
        self.ranks = {pair: rank for rank, pair in enumerate(self.merges)}
        pieces = [bytes([i]) for i in range(256)]
        for left, right in self.merges:
            pieces.append(pieces[left] + pieces[right])
        first_special = len(pieces)
        self.special_ids = {token: first_special + k for k, token in enumerate(self.special_tokens)}
        pieces += [token.encode("utf-8") for token in self.special_tokens]
        self.pieces = pieces
        # Longest first, so that one special token that starts another never cuts it short.
        ordered = sorted(self.special_tokens, key=len, reverse=True)
        self._special_split = re.compile("(" + "|".join(map(re.escape, ordered)) + ")") if ordered else None
        self._cache = {}

    @property
    def vocab_size(self) -> int:
        return len(self.pieces)

    def train(self, text: str, vocab_size: int, verbose: bool = False) -> BPETokenizer:
        """Learn vocab_size - 256 - len(special_tokens) merges from `text` (fast trainer); returns self.

        Special-token strings inside `text` cut it into pieces that are trained on (no merge learns
        a special token's text, and none spans one).
        Stops early, with a smaller vocabulary, when the text has no pair left to merge.
        """
        _check_text(text, "BPETokenizer.train")
        floor = 256 + len(self.special_tokens)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, numbers.Integral):
            raise TypeError(f"BPETokenizer.train: vocab_size must be an int, got {vocab_size!r}")
        if vocab_size < floor:
            raise ValueError(f"BPETokenizer.train: vocab_size must be at least {floor} (256 byte tokens + "
                             f"{len(self.special_tokens)} special), got {vocab_size}")
        pieces = self._special_split.split(text)[::2] if self._special_split is not None else [text]
        chunk_counts = Counter()
        for piece in pieces:
            chunk_counts.update(split_chunks(piece))
        merges = _train_on_chunks(chunk_counts, int(vocab_size) - floor)
        self._set_merges(merges)
        if verbose:
            print(f"BPETokenizer.train: {len(merges)} merges, vocab_size {self.vocab_size}")
        return self

    def encode_chunk(self, chunk: str) -> list:
        """The ids of one pre-split chunk: its UTF-8 bytes with the learned merges applied by rank."""
        cached = self._cache.get(chunk)
        if cached is not None:
            return cached
        ids = list(chunk.encode("utf-8"))
        # Hint: self.ranks maps a pair to its merge rank (0 = learned first); merge `rank` made token
        #       256 + rank. While at least two ids are left: among the adjacent pairs, find the one with
        #       the lowest rank (pairs that were never merged rank as infinity); stop if none was merged,
        #       else ids = merge_pair(ids, pair, 256 + rank). Why the lowest rank first? Training created
        #       the tokens in that order, so a later merge may need the token an earlier one makes.
        ### BEGIN SOLUTION
        ranks = self.ranks
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, len(ranks)))
            rank = ranks.get(pair)
            if rank is None:
                break
            ids = merge_pair(ids, pair, 256 + rank)
        ### END SOLUTION
        if len(self._cache) > 200_000:  # bound the memory a long stream of new chunks can take
            self._cache.clear()
        self._cache[chunk] = ids
        return ids

    def encode(self, text: str, special: bool = True) -> list:
        """Token ids of `text`. With special=True each special-token string becomes its one id."""
        _check_text(text, "BPETokenizer.encode")
        if not isinstance(special, bool):
            raise TypeError(f"BPETokenizer.encode: special must be True or False, got {special!r}")
        if not _is_utf8_text(text):
            position = next(i for i, ch in enumerate(text) if not _is_utf8_text(ch))
            raise ValueError(f"BPETokenizer.encode: text is not valid Unicode for UTF-8 (a lone surrogate "
                             f"{text[position]!r} at position {position}); byte-level BPE needs UTF-8")
        parts = self._special_split.split(text) if special and self._special_split is not None else [text]
        ids = []
        for k, part in enumerate(parts):
            if k % 2:
                ids.append(self.special_ids[part])
            else:
                for chunk in split_chunks(part):
                    ids.extend(self.encode_chunk(chunk))
        return ids

    def decode_bytes(self, ids) -> bytes:
        """The raw bytes of `ids` (what decode turns into text)."""
        checked = _as_ids(ids, self.vocab_size, "BPETokenizer.decode")
        pieces = self.pieces
        return b"".join([pieces[i] for i in checked.tolist()])

    def decode(self, ids) -> str:
        """The text of `ids`; bytes that do not form UTF-8 characters decode to U+FFFD (as GPT-2 does)."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def save(self, path) -> None:
        """Write merges and special tokens as JSON (atomically; nothing executable)."""
        _write_json(path, {"kind": self.kind, "version": TOKENIZER_FORMAT_VERSION, "pattern": SPLIT_PATTERN,
                           "special_tokens": self.special_tokens, "merges": [list(pair) for pair in self.merges]})

    @classmethod
    def load(cls, path) -> BPETokenizer:
        """Read a file written by save(); corrupt or foreign files are a ValueError that says why."""
        payload = _read_json(path, cls.kind, "BPETokenizer.load")
        if payload.get("pattern") != SPLIT_PATTERN:
            raise ValueError(f"BPETokenizer.load: {path} was made with another pre-split pattern "
                             f"({payload.get('pattern')!r}); its merges would tokenize differently here")
        merges, specials = payload.get("merges"), payload.get("special_tokens")
        if not isinstance(merges, list) or not isinstance(specials, list):
            raise ValueError(f"BPETokenizer.load: {path} needs a 'merges' list and a 'special_tokens' list")
        for rank, pair in enumerate(merges):
            ok = (isinstance(pair, list) and len(pair) == 2
                  and all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < 256 + rank for t in pair))
            if not ok:
                raise ValueError(f"BPETokenizer.load: {path}: merge {rank} is {pair!r}; a merge is two ids of "
                                 f"tokens that exist before it (0..{255 + rank})")
        try:
            tokenizer = cls(special_tokens=specials)
        except (TypeError, ValueError) as error:
            raise ValueError(f"BPETokenizer.load: {path}: invalid special tokens: {error}") from None
        tokenizer._set_merges(merges)
        return tokenizer

    def __repr__(self) -> str:
        return (f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
                f"special_tokens={self.special_tokens})")

# %%
#| test
def test_unit_bpe_tokenizer():
    text = "the quick brown fox jumps over the lazy dog; the cat sat on the mat. " * 20
    tok = BPETokenizer().train(text, vocab_size=256 + 20 + 1)
    assert tok.vocab_size == 277 and len(tok.merges) == 20, (
        f"vocab_size 277 with one special token means 20 merges, got {len(tok.merges)} (vocab {tok.vocab_size})")
    ids = tok.encode(text)
    assert len(ids) < 0.6 * len(text.encode()), f"20 merges should shorten this text by 40%, got {len(ids)} tokens"
    for sample in ["the cat", "naïve 😀 — ok\n\ttabs", "", "<|endoftext|>the cat<|endoftext|>"]:
        assert tok.decode(tok.encode(sample)) == sample, f"decode(encode(s)) must give s back exactly for {sample!r}"
    replay = list(" lazy dog".encode())
    for rank, pair in enumerate(tok.merges):  # every merge once, in training order: the definition
        replay = merge_pair(replay, pair, 256 + rank)
    assert tok.encode_chunk(" lazy dog") == replay, (
        f"encode_chunk should apply merges lowest rank first, as training made them: expected {replay}, got "
        f"{tok.encode_chunk(' lazy dog')}")
    eot = tok.special_ids["<|endoftext|>"]
    assert eot == 276 and tok.encode("a<|endoftext|>b") == [97, eot, 98], (
        "a special token is one id (the last), never split into bytes")
    assert eot not in tok.encode("a<|endoftext|>b", special=False), "special=False treats it as ordinary text"
    try:
        tok.decode([5, 277])
    except ValueError as error:
        assert "277" in str(error), f"the error should name the bad id 277, got: {error}"
    else:
        raise AssertionError("decoding id 277 of a 277-token vocabulary must raise ValueError")
    try:
        BPETokenizer().train(text, vocab_size=100)
    except ValueError as error:
        assert "vocab_size" in str(error) and "257" in str(error), str(error)
    else:
        raise AssertionError("vocab_size below 256 + specials must raise ValueError")
    print(f"✅ BPETokenizer: {len(text)} characters -> {len(ids)} tokens, exact round trip, special tokens, errors")


test_unit_bpe_tokenizer()

# %% [markdown]
# ## 7. The corpora: Shakespeare, Python, and small talk
#
# The 2017 milestone trains a GPT on three small corpora that ship with the repository (in
# `datasets/`, each made by a script there and verified by SHA-256 on every load), so everything
# works offline:
#
# | loader | what it returns |
# |---|---|
# | `load_shakespeare()` | the original tiny-Shakespeare text (char-rnn): 1,115,394 characters, 65 distinct |
# | `load_tinypy()` | `{"train", "val", "test"}` lists of ~5,000 short functions from Python's own stdlib source |
# | `load_tinytalks()` | `{"train", "val", "test"}` lists of `(question, answer)` pairs written by the project |
#
# If `$TINYTORCH_DATA/tinyshakespeare/input.txt` exists (the original file), it is used instead
# of the shipped copy, after the same checksum. `datasets/README.md` describes how each corpus
# was made and how its held-out split was chosen.
#
# Helpers render them as training text: `render_tinytalks(pairs)` writes each pair as a turn
# `"Q: question\nA: answer\n"`, `tinytalks_prompt(question)` is what a model continues to answer,
# and `render_tinypy(functions)` separates functions by a blank line.

# %%
#| export
SHAKESPEARE = {"file": "tinyshakespeare.txt.xz", "build": "build_tinyshakespeare.py",
               "sha256": "fb372d44d41fd53c885449915d76380dc01ad3cc44e9459418cd9b0dca9c5ebe",
               "text_sha256": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
               "chars": 1_115_394}
TINYPY = {"file": "tinypy.json.xz", "build": "build_tinypy.py", "format": "tinypy",
          "sha256": "6b26382acf3151360536a655c7a420794956684ba96ca530d8a105069c8d0794"}
TINYTALKS = {"file": "tinytalks.json.xz", "build": "build_tinytalks.py", "format": "tinytalks",
             "sha256": "ad0f841c62c20cf307800a8299a34d4ddbba4103c3513439c027bdc78e92d8d2"}


def _read_shipped(spec: dict, where: str) -> bytes:
    """The decompressed contents of a shipped datasets/ file, after checking its SHA-256."""
    path = shipped_folder() / spec["file"]
    restore = (f"it ships with the TinyTorch repository: restore it with `git checkout -- datasets/{spec['file']}` "
               f"or rebuild it with `python datasets/{spec['build']}`")
    if not path.is_file():
        raise DatasetNotFoundError(f"{where}: {path} is missing; {restore}")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec["sha256"]:
        raise ChecksumError(f"{where}: {path} failed its checksum (sha256 is {digest}, expected {spec['sha256']}); "
                            f"{restore}")
    return lzma.decompress(data)


def load_shakespeare(root=None) -> str:
    """The tiny-Shakespeare corpus (1,115,394 characters), verified by SHA-256.

    Uses ROOT/tinyshakespeare/input.txt when it exists (ROOT = `root`, else $TINYTORCH_DATA, else
    ~/.cache/tinytorch), otherwise the copy shipped in datasets/.
    """
    original = data_root(root) / "tinyshakespeare" / "input.txt"
    if original.is_file():
        problem = checksum_problem(original, Resource("input.txt", md5="", sha256=SHAKESPEARE["text_sha256"]))
        if problem is not None:
            raise ChecksumError(f"load_shakespeare: {original} is not the original tiny-Shakespeare text ({problem}); "
                                "replace it with the original or remove it to use the copy shipped in datasets/")
        data = original.read_bytes()
    else:
        data = _read_shipped(SHAKESPEARE, "load_shakespeare")
        digest = hashlib.sha256(data).hexdigest()
        if digest != SHAKESPEARE["text_sha256"]:
            raise ChecksumError(f"load_shakespeare: the decompressed text has sha256 {digest}, expected "
                                f"{SHAKESPEARE['text_sha256']}")
    return data.decode("utf-8")


def _read_splits(spec: dict, where: str) -> dict:
    payload = json.loads(_read_shipped(spec, where).decode("utf-8"))
    if not isinstance(payload, dict) or payload.get("format") != spec["format"]:
        raise ChecksumError(f"{where}: datasets/{spec['file']} is not a {spec['format']} file")
    return payload["splits"]


def load_tinypy() -> dict:
    """{"train": [...], "val": [...], "test": [...]}: short Python functions (str), from the stdlib's source."""
    return {name: list(items) for name, items in _read_splits(TINYPY, "load_tinypy").items()}


def load_tinytalks(categories: bool = False) -> dict:
    """{"train": [...], "val": [...], "test": [...]}: (question, answer) pairs written by the project.

    With categories=True each item is (question, answer, category), the category naming the fact
    table it comes from ("capital", "colour", "opposite", "sound", "after", "before", "plus",
    "greeting"), for per-category accuracy.
    """
    splits = _read_splits(TINYTALKS, "load_tinytalks")
    if categories:
        return {name: [(q, a, c) for q, a, c in items] for name, items in splits.items()}
    return {name: [(q, a) for q, a, _ in items] for name, items in splits.items()}


def tinytalks_prompt(question: str) -> str:
    """The text a model continues to answer `question`: 'Q: {question}\\nA: '."""
    return f"Q: {_check_text(question, 'tinytalks_prompt', 'question')}\nA: "


def render_tinytalks(pairs) -> str:
    """Training text for (question, answer) pairs: one 'Q: ...\\nA: ...\\n' turn per pair."""
    return "".join(f"{tinytalks_prompt(q)}{_check_text(a, 'render_tinytalks', 'answer')}\n" for q, a in pairs)


def render_tinypy(functions) -> str:
    """Training text for function sources: each ends with a newline, a blank line separates them."""
    return "\n".join(_check_text(f, "render_tinypy", "function") for f in functions)

# %%
#| test
def test_unit_corpora():
    text = load_shakespeare()
    assert len(text) == 1_115_394 and text.startswith("First Citizen:"), (
        f"load_shakespeare should return the original 1,115,394 characters, got {len(text):,}")
    talks = load_tinytalks()
    assert set(talks) == {"train", "val", "test"} and len(talks["train"]) > 500, {k: len(v) for k, v in talks.items()}
    question, answer = talks["train"][0]
    assert render_tinytalks([(question, answer)]) == f"Q: {question}\nA: {answer}\n"
    functions = load_tinypy()
    assert sum(map(len, functions.values())) == 5000 and functions["train"][0].startswith(("def ", "async def ")), (
        "tinypy holds 5,000 function sources that start with def")
    print(f"✅ corpora: Shakespeare {len(text):,} characters, tinytalks {len(talks['train'])} train pairs, "
          f"tinypy {len(functions['train'])} train functions — all verified by SHA-256")


test_unit_corpora()

# %% [markdown]
# ## 8. From a token stream to training batches
#
# A language model trains on windows of the token stream. A window of `T + 1` consecutive ids
# gives `T` training examples at once: at every position the target is the *next* id.
#
# ```
#  ids:   ... 18 47 56 57 58  1 15 47 58 ...
#                 └──── window of T+1 = 6 ────┘ starting at a random offset s
#  x = ids[s : s+T]      = [47 56 57 58  1]
#  y = ids[s+1 : s+T+1]  = [56 57 58  1 15]      y[t] is what the model should predict after x[..t]
# ```
#
# `batch_blocks(ids, block_size, batch_size)` draws `batch_size` random offsets and gathers every
# window with **one** fancy index: `ids[starts[:, None] + arange(T + 1)]` has shape `(B, T + 1)`.
# No Python loop over the batch. The offsets come from the package generator (so
# `tinytorch.manual_seed` reproduces a run) or from an explicit `np.random.Generator`.
#
# Tip: store a long stream as `uint16` when the vocabulary fits (< 65,536): half the memory of
# int32, a quarter of int64; `batch_blocks` converts just the batch to int64.

# %%
#| export
def batch_blocks(ids, block_size: int, batch_size: int, generator=None) -> tuple:
    """Random training windows of a 1-D token stream: (x, y), int64 Tensors (batch_size, block_size).

    y[b, t] == x[b, t + 1] (the next token) and y[b, -1] is the token after the window. Offsets are
    uniform over every valid start, drawn from `generator` (np.random.Generator) or the default one.
    """
    if isinstance(ids, Tensor):
        ids = ids.data
    if not isinstance(ids, np.ndarray):
        raise TypeError(f"batch_blocks: ids must be a 1-D integer ndarray or Tensor, got {type(ids).__name__}; "
                        "use np.asarray(tokenizer.encode(text)) once, not a list per batch")
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(f"batch_blocks: ids must be a 1-D integer array, got shape {ids.shape}, dtype {ids.dtype}")
    for name, value in (("block_size", block_size), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"batch_blocks: {name} must be a positive int, got {value!r}")
    if block_size >= len(ids):
        raise ValueError(f"batch_blocks: block_size ({block_size}) must be smaller than len(ids) ({len(ids)}): "
                         "a window needs block_size + 1 tokens")
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"batch_blocks: generator must be a numpy.random.Generator, got {type(generator).__name__}")
    rng = generator if generator is not None else default_generator()
    # Hint: starts = rng.integers(0, len(ids) - block_size, size=batch_size) (the last valid start is
    #       len(ids) - block_size - 1); windows = ids[starts[:, None] + np.arange(block_size + 1)], then
    #       x = windows[:, :-1], y = windows[:, 1:], each as a contiguous int64 array in a Tensor.
    ### BEGIN SOLUTION
    starts = rng.integers(0, len(ids) - block_size, size=batch_size)
    windows = ids[starts[:, None] + np.arange(block_size + 1)].astype(np.int64, copy=False)
    return Tensor(np.ascontiguousarray(windows[:, :-1])), Tensor(np.ascontiguousarray(windows[:, 1:]))
    ### END SOLUTION

# %%
#| test
def test_unit_batch_blocks():
    ids = np.arange(100, 200, dtype=np.uint16)
    x, y = batch_blocks(ids, block_size=8, batch_size=5, generator=np.random.default_rng(0))
    assert x.shape == (5, 8) and y.shape == (5, 8), (
        f"x and y should be (batch, block) = (5, 8), got {x.shape}, {y.shape}")
    assert x.dtype == np.int64 and y.dtype == np.int64, "token ids for an embedding are int64"
    assert np.array_equal(y.data[:, :-1], x.data[:, 1:]) and np.array_equal(y.data[:, -1], x.data[:, -1] + 1), (
        "y must be x shifted by one position: y[:, t] is the token after x[:, t]")
    x2, _ = batch_blocks(ids, 8, 5, generator=np.random.default_rng(0))
    assert np.array_equal(x.data, x2.data), "the same generator seed must give the same batch"
    starts = batch_blocks(np.arange(10), 9, 200, generator=np.random.default_rng(1))[0].data[:, 0]
    assert set(starts.tolist()) == {0}, "with 10 ids and block 9 the only window starts at 0 (it needs 10 ids)"
    try:
        batch_blocks(ids, 100, 2)
    except ValueError as error:
        assert "block_size" in str(error), str(error)
    else:
        raise AssertionError("block_size >= len(ids) must raise ValueError")
    print("✅ batch_blocks: (B, T) int64 windows, y shifted by one, seeded, every valid start")


test_unit_batch_blocks()

# %% [markdown]
# ## Analysis 1 — the vectorized character encoder
#
# How much does the vectorized encoder buy on the real corpus? Below: a dictionary lookup per
# character against `encode_array`, on all 1.1 MB of Shakespeare, and the same for decoding.

# %%
#| analysis
import time


def median_seconds(fn, repeats: int = 7) -> float:
    """Median wall time of fn() over `repeats` runs, after one warm-up run (first-touch memory, caches)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


shakespeare = load_shakespeare()
chars = CharTokenizer.from_text(shakespeare)
stoi = {ch: i for i, ch in enumerate(chars.vocab)}
loop_s = median_seconds(lambda: [stoi[ch] for ch in shakespeare])
vector_s = median_seconds(lambda: chars.encode_array(shakespeare))
stream = chars.encode_array(shakespeare)
join_s = median_seconds(lambda: "".join([chars.vocab[i] for i in stream.tolist()]))
decode_s = median_seconds(lambda: chars.decode(stream))
assert chars.decode(stream) == shakespeare
print(f"{len(shakespeare):,} characters, vocabulary {chars.vocab_size}")
print(f"encode: dict per character {loop_s * 1e3:7.1f} ms | vectorized {vector_s * 1e3:6.1f} ms | "
      f"{loop_s / vector_s:5.1f}x faster")
print(f"decode: join per id        {join_s * 1e3:7.1f} ms | vectorized {decode_s * 1e3:6.1f} ms | "
      f"{join_s / decode_s:5.1f}x faster")

# %% [markdown]
# ## Analysis 2 — direct vs incremental BPE training
#
# The direct loop on a slice (it is too slow for the whole text), the fast trainer on the same
# slice (same merges), and the fast trainer on the full 1.1 MB text with 1,000 merges.

# %%
#| analysis
piece = shakespeare[:20_000]
start = time.perf_counter()
slow_merges = train_bpe_direct(piece, 100)
direct_s = time.perf_counter() - start
start = time.perf_counter()
fast_merges = train_bpe(piece, 100)
fast_small_s = time.perf_counter() - start
assert fast_merges == slow_merges, "the two trainers must agree"
start = time.perf_counter()
full_merges = train_bpe(shakespeare, 2000 - 257)
full_s = time.perf_counter() - start
start = time.perf_counter()
train_bpe(shakespeare, 1000)
thousand_s = time.perf_counter() - start
print(f"20,000 characters, 100 merges: direct {direct_s:6.2f} s | incremental {fast_small_s:6.3f} s "
      f"({direct_s / fast_small_s:.0f}x), identical merges")
print(f"full text ({len(shakespeare):,} characters): 1,000 merges in {thousand_s:.2f} s, "
      f"{len(full_merges):,} merges in {full_s:.2f} s")
print(f"the direct loop costs ~len(text) per merge: 1,000 merges on the full text would take about "
      f"{direct_s / 100 * 1000 * len(shakespeare) / len(piece) / 60:.0f} minutes")

# %% [markdown]
# ## Analysis 3 — what a bigger vocabulary buys, and what it costs
#
# BPE merges are learned in order, so the first `k` merges of a 2,000-token vocabulary *are* the
# vocabulary of size `256 + k + 1`: we train once and cut. For each size: tokens per character
# on the full text (compression), the sequence length a 1,024-character context needs, the
# embedding table of a model with 128-dimensional embeddings (float32), and the attention score
# matrix per head and layer (`T²` floats).

# %%
#| analysis
print(f"{'vocab':>6}{'tokens':>11}{'tok/char':>10}{'T for 1024 chars':>18}{'embedding KB':>14}{'attention T^2':>15}")
rows = []
for size in (257, 512, 1000, 2000):
    tok = BPETokenizer()
    tok._set_merges(full_merges[:size - 257])
    count = len(tok.encode(shakespeare))
    per_char = count / len(shakespeare)
    context = round(1024 * per_char)
    rows.append((size, per_char))
    print(f"{size:>6}{count:>11,}{per_char:>10.3f}{context:>18}{size * 128 * 4 / 1024:>14,.0f}{context ** 2:>15,}")
print(f"characters (vocab {chars.vocab_size}): 1.000 token per character, T = 1024, attention {1024 ** 2:,}")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.2))
    axis.plot([r[0] for r in rows], [r[1] for r in rows], marker="o")
    axis.set_xlabel("vocabulary size")
    axis.set_ylabel("tokens per character")
    axis.set_title("BPE on tiny-Shakespeare")
    figure.tight_layout()
    plot_path = Path("modules/10_tokenization") if Path("modules/10_tokenization").is_dir() else Path(".")
    figure.savefig(plot_path / "tokenization_compression.png", dpi=100)
    plt.close(figure)
    print(f"plot saved to {plot_path / 'tokenization_compression.png'}")
except ImportError:
    print("(matplotlib is not installed: the table above is the whole result)")

# %% [markdown]
# Read the table from top to bottom. The first 255 merges halve the text; the next thousand and
# more shave off far less (on this text, 1,000 → 2,000 tokens shortens it by about a sixth): the
# first merges (`" t"`, `"he"`, `" the"`) are worth the most, later ones cover rarer words.
# Shorter sequences pay twice: a fixed context of characters costs fewer steps, and attention's
# `T²` shrinks with the *square* of the compression. The bill is the embedding table (and, with
# weight tying, the output layer), which grows linearly with the vocabulary — negligible here,
# but at GPT-2's 50,257 tokens × 768 dimensions it is 38.6M of the 124M parameters. And every
# rare token gets few training examples: on a 1 MB corpus, a very large vocabulary leaves many
# tokens barely trained. That is why a small model on a small corpus often does best with
# characters.

# %% [markdown]
# ## Reflection
#
# **Q1.** A character tokenizer built from Shakespeare meets the text `"Café"`. What does
# `encode` do by default, and why is that better than mapping `"é"` to id 0? When would you pass
# `unk`, and what do you lose?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** Why does byte-level BPE never need an unknown token, while a word-level tokenizer
# always does? Which strings does a BPE tokenizer with zero merges encode, and how long are they?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** The incremental trainer gives exactly the same merges as the direct loop. Which two
# facts about BPE make that possible, and which data structures does it keep between merges?
# What would break if ties were broken by "whichever pair the dictionary lists first"?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q4.** Using Analysis 3, a model reads 1,024 characters at a time. Compare a character-level
# model with a 2,000-token BPE model: sequence length, attention cost per layer, embedding
# parameters at 128 dimensions. Which would you choose for a 1M-parameter model trained for five
# minutes, and why?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q5.** A web page contains the literal text `<|endoftext|>`. What happens if you encode it with
# `special=True` and feed it to a model trained with that marker between documents? Why does
# `special=False` exist?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - Tokens trade vocabulary size for sequence length; characters are small and long, BPE
#   sub-words short and learned, bytes guarantee that nothing is unknown.
# - `CharTokenizer` raises on unknown characters (or maps them to `unk`), and encodes a megabyte
#   with one table lookup instead of a million dictionary lookups.
# - BPE learns merges of the most frequent adjacent pair; the direct loop is the definition and
#   the oracle, the incremental trainer (distinct chunks, per-pair chunk sets, a heap) gives the
#   same merges orders of magnitude faster.
# - `BPETokenizer` round-trips every UTF-8 string, keeps special tokens whole, rejects ids it
#   never made, and lives in a JSON file.
# - `batch_blocks` turns a token stream into `(x, y)` windows with one fancy index.
#
# Next: module 11 turns token ids into vectors — `Embedding` tables and positional encodings.
