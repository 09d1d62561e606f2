"""Small file helpers shared by the commands: atomic writes, hashes, text detection."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never half of it.

    The temporary file sits in the same folder, because os.replace is only atomic within one
    file system.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())  # the bytes are on disk before the name points at them
        # mkstemp makes the file private (0600); give it the mode an ordinary write would.
        os.chmod(temporary, _default_mode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _default_mode() -> int:
    """0666 less the umask: the mode open() would give a new file."""
    return 0o666 & ~current_umask()


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (used to notice edits without keeping copies)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_text_or_none(path: Path) -> str | None:
    """The file's text, or None for binary files (a NUL byte in the first 8 KiB).

    Datasets ship as binary archives; scanning them line by line for code would be meaningless.
    """
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")
