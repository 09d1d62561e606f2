# Generated from modules/10_tokenization/tokenization.py by `tito export`. Do not edit: edit the module.

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
        self._codes = _code_points("".join(self.vocab))
        self._table = np.full(int(self._codes.max()) + 1, -1, dtype=np.int64)
        self._table[self._codes] = np.arange(len(self.vocab))
        self.unk_id = self.vocab.index(unk) if unk is not None else None

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

    def encode(self, text: str) -> list:
        """The ids of `text`, one per character: a list of ints."""
        return self.encode_array(text).tolist()

    def decode(self, ids) -> str:
        """The text of `ids` (list, ndarray or integer Tensor). Raises on ids outside 0..vocab_size-1."""
        # Hint: check the ids with _as_ids(ids, self.vocab_size, "CharTokenizer.decode"), look their code
        #       points up in self._codes with one fancy index and turn them back into a str.
        return _from_code_points(self._codes[_as_ids(ids, self.vocab_size, "CharTokenizer.decode")])

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
    counts = {}
    for ids in chunks:
        for pair in zip(ids, ids[1:]):
            counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge_pair(ids: list, pair: tuple, new_id: int) -> list:
    """`ids` with every occurrence of `pair`, scanned left to right, replaced by `new_id`.

    merge_pair([1, 1, 1, 2], (1, 1), 9) == [9, 1, 2]: occurrences do not overlap.
    """
    # Hint: walk with an index i; when ids[i], ids[i + 1] equal the pair, append new_id and jump by 2,
    #       otherwise append ids[i] and step by 1.
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
    merges = []
    for step in range(num_merges):
        counts = get_pair_counts(chunks)
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        chunks = [merge_pair(ids, best, 256 + step) for ids in chunks]
        merges.append(best)
    return merges


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
        ranks = self.ranks
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, len(ranks)))
            rank = ranks.get(pair)
            if rank is None:
                break
            ids = merge_pair(ids, pair, 256 + rank)
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
    starts = rng.integers(0, len(ids) - block_size, size=batch_size)
    windows = ids[starts[:, None] + np.arange(block_size + 1)].astype(np.int64, copy=False)
    return Tensor(np.ascontiguousarray(windows[:, :-1])), Tensor(np.ascontiguousarray(windows[:, 1:]))
