"""Finding the TinyTorch repository a command runs in."""

from __future__ import annotations

from pathlib import Path

from tito.errors import TitoError


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd) holding modules/ and tinytorch/.

    Walking upwards lets learners run tito from inside modules/01_tensor as well as from the
    repository root.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "modules").is_dir() and (folder / "tinytorch").is_dir():
            return folder
    raise TitoError(
        f"not inside a TinyTorch repository: no folder at or above {here} holds both "
        "modules/ and tinytorch/; cd into your TinyTorch checkout and try again"
    )
