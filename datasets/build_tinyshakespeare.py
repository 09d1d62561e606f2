"""Build datasets/tinyshakespeare.txt.xz: the tiny-Shakespeare corpus, compressed (stdlib lzma only).

    python datasets/build_tinyshakespeare.py --source DATA_ROOT    # DATA_ROOT holds tinyshakespeare/input.txt

The source is the original `input.txt` of Andrej Karpathy's char-rnn (data/tinyshakespeare): 40,000
lines of Shakespeare's plays, 1,115,394 characters of ASCII. The plays are in the public domain; the
compilation ships with char-rnn under the MIT licence. The text is stored unchanged (the loader checks
the SHA-256 of the decompressed text against the original's), compressed with xz preset 9e: xz has no
timestamps or file names in its header, so a rebuild gives a byte-identical file.
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import os
from pathlib import Path

from _build_common import HERE, describe

TEXT_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"  # the original input.txt
TEXT_CHARS = 1_115_394


def compress(text: bytes) -> bytes:
    """The shipped bytes for `text`: xz, preset 9 extreme, SHA-256 integrity check."""
    return lzma.compress(text, format=lzma.FORMAT_XZ, check=lzma.CHECK_SHA256, preset=9 | lzma.PRESET_EXTREME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("TINYTORCH_DATA", "")
    parser.add_argument("--source", default=default, required=not default,
                        help="folder holding tinyshakespeare/input.txt (default: $TINYTORCH_DATA)")
    parser.add_argument("--out", default=str(HERE / "tinyshakespeare.txt.xz"))
    args = parser.parse_args()
    raw = (Path(args.source).expanduser() / "tinyshakespeare" / "input.txt").read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != TEXT_SHA256:
        raise SystemExit(f"{args.source}/tinyshakespeare/input.txt has sha256 {digest}, expected the original's "
                         f"{TEXT_SHA256}")
    assert len(raw.decode("utf-8")) == TEXT_CHARS
    out = Path(args.out)
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_bytes(compress(raw))
    os.replace(temporary, out)
    print(describe(out))


if __name__ == "__main__":
    main()
