"""`tito data list | fetch NAME | verify [NAME ...]`: which datasets are here, download, check.

The dataset table (names, official files, checksums, mirrors) belongs to the framework,
tinytorch/core/data.py (module 08), so tito and the loaders can never disagree about it; this
file imports it and prints. `list` and `verify` only read and hash files, they never move or
delete one (a loader moves a corrupt download aside; `tito data fetch` replaces it). The
downloading code is not one of the learner's exercises, so these commands work in a student
release before module 08 is done.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from tito.errors import TitoError, UsageError


def load_data_module(root: Path):
    """tinytorch.core.data of this repository, or a TitoError that says how to repair it."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # this repository's package before any other installed copy
    try:
        return importlib.import_module("tinytorch.core.data")
    except Exception as error:  # a learner's broken module must not crash tito with a traceback
        raise TitoError(
            f"tinytorch.core.data does not import ({type(error).__name__}: {error}); run "
            "`tito export 08`, then `python -c 'import tinytorch.core.data'` to see the full error"
        ) from None


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    for unit, scale in (("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def shown_path(path: Path, root: Path) -> str:
    """Repository files relative to the root (as learners see them), everything else absolute."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def summary(report) -> str:
    """One word or phrase for a dataset's files: verified, corrupt, not downloaded, incomplete."""
    states = [item.state for item in report]
    if "corrupt" in states:
        bad = ", ".join(item.path.name for item in report if item.state == "corrupt")
        return f"CORRUPT ({bad})"
    if all(state == "verified" for state in states):
        return "verified"
    if all(state == "missing" for state in states):
        return "not downloaded"
    return f"incomplete ({states.count('verified')} of {len(states)} files)"


def is_shipped(data, name: str) -> bool:
    return issubclass(data.dataset_class(name), data.ShippedDataset)


def root_description(data) -> str:
    where = data.data_root()
    source = "$TINYTORCH_DATA" if os.environ.get("TINYTORCH_DATA") else "default; set $TINYTORCH_DATA to move it"
    return f"data root: {where} ({source})"


def cmd_list(root: Path) -> int:
    data = load_data_module(root)
    shipped = root / "datasets"
    print(root_description(data))
    print(f"{'NAME':<15}{'KIND':<10}{'SIZE':>10}  {'STATUS':<28}WHERE")
    for name in data.DATASETS:
        report = data.dataset_status(name, shipped=shipped)
        present = [item.size for item in report if item.size is not None]
        size = sum(present) if present else None
        status = summary(report)
        if is_shipped(data, name):
            kind, where = "shipped", shown_path(report[0].path, root)
        else:
            kind, where = "download", str(data.dataset_folder(name))
            if status != "verified":
                where += f"  (tito data fetch {name})"
        print(f"{name:<15}{kind:<10}{human_size(size):>10}  {status:<28}{where}")
    return 0


def known_name(data, name: str) -> str:
    try:
        return data.dataset_class(name).name
    except ValueError:
        raise UsageError(
            f"argument NAME: expected one of {', '.join(data.DATASETS)}, got {name!r}"
        ) from None


def cmd_verify(root: Path, names: list[str]) -> int:
    data = load_data_module(root)
    chosen = [known_name(data, name) for name in names] or list(data.DATASETS)
    shipped = root / "datasets"
    failures = checked = 0
    for name in chosen:
        report = data.dataset_status(name, shipped=shipped)
        required = bool(names) or is_shipped(data, name)  # a dataset never fetched is no failure
        if not required and all(item.state == "missing" for item in report):
            print(f"-        {name}: not downloaded (tito data fetch {name})")
            continue
        for item in report:
            where = shown_path(item.path, root)
            if item.state == "verified":
                checked += 1
                print(f"OK       {where} ({human_size(item.size)})")
            elif item.state == "corrupt":
                failures += 1
                fix = (
                    f"git checkout -- {where}"
                    if is_shipped(data, name)
                    else f"tito data fetch {name} replaces it"
                )
                print(f"CORRUPT  {where}: {item.detail}; {fix}")
            else:
                failures += 1
                print(f"MISSING  {where} (tito data fetch {name})")
    print(f"\n{checked} file(s) verified, {failures} problem(s)")
    return 1 if failures else 0


def cmd_fetch(root: Path, name: str) -> int:
    data = load_data_module(root)
    name = known_name(data, name)
    if is_shipped(data, name):
        (item,) = data.dataset_status(name, shipped=root / "datasets")
        where = shown_path(item.path, root)
        if item.state != "verified":
            raise TitoError(
                f"{name} ships with the repository, but {where} is {item.state}"
                + (f" ({item.detail})" if item.detail else "")
                + f"; restore it with `git checkout -- {where}`"
            )
        print(f"{name} ships with the repository ({where}, verified); nothing to download")
        return 0
    try:
        paths = data.fetch_dataset(name)
    except data.DataError as error:
        raise TitoError(str(error)) from None
    print(f"{name}: {len(paths)} file(s) verified in {data.dataset_folder(name)}")
    return 0
