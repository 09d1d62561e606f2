"""A learner's progress: `.tito/progress.json`, and each module's status derived from it.

The file is JSON only (no pickle), written atomically, and kept out of git by .gitignore:

    {"format": 1,
     "modules": {"01_tensor": {"started": "2025-01-02T10:00:00+01:00",
                               "completed": "2025-01-03T18:30:00+01:00",
                               "completed_sha256": "<hash of the module file when it passed>"}}}

Status of a module (docs/tito.md):
- complete: `tito module complete` recorded a pass;
- in progress: `tito module start` was run, or the module file differs from the state the
  student release shipped it in (hash in .tito-release.json);
- not started: otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tito.errors import TitoError
from tito.export import ModuleInfo, find_modules
from tito.fileio import sha256_of, write_atomically
from tito.release import read_manifest

PROGRESS = Path(".tito") / "progress.json"


def progress_path(root: Path) -> Path:
    return root / PROGRESS


def load(root: Path) -> dict:
    """The progress record; an empty one when the learner has not run anything yet.

    A corrupt file is an error rather than a silent reset: it holds the learner's record.
    """
    path = progress_path(root)
    if not path.exists():
        return {"format": 1, "modules": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise TitoError(
            f"{path}: not valid JSON ({error}); fix it or delete it to start the record afresh"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("modules"), dict):
        raise TitoError(f"{path}: expected an object with a 'modules' object; fix it or delete it")
    return data


def save(root: Path, data: dict) -> None:
    write_atomically(progress_path(root), json.dumps(data, indent=2, sort_keys=True) + "\n")


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def mark_started(root: Path, module: ModuleInfo) -> bool:
    """Record that the learner started a module; False when it was already recorded."""
    data = load(root)
    record = data["modules"].setdefault(module.tag, {})
    if "started" in record:
        return False
    record["started"] = _now()
    save(root, data)
    return True


def mark_completed(root: Path, module: ModuleInfo) -> str:
    """Record a passing `tito module complete`; returns the timestamp written."""
    data = load(root)
    record = data["modules"].setdefault(module.tag, {})
    record.setdefault("started", _now())
    record["completed"] = _now()
    record["completed_sha256"] = sha256_of(module.source)
    save(root, data)
    return record["completed"]


@dataclass
class ModuleState:
    module: ModuleInfo
    status: str  # "not started", "in progress" or "complete"
    completed: str  # date (YYYY-MM-DD) or ""
    note: str  # e.g. "edited since completion"


def states(root: Path) -> list[ModuleState]:
    """Every module's status, in course order."""
    data = load(root)
    manifest = read_manifest(root) or {"modules": {}}
    result = []
    for module in find_modules(root):
        record = data["modules"].get(module.tag, {})
        current = sha256_of(module.source)
        released = manifest["modules"].get(module.tag, {}).get("sha256")
        if "completed" in record:
            edited = record.get("completed_sha256") not in (None, current)
            note = (
                f"edited since completion; run `tito module complete {module.number}`"
                if edited
                else ""
            )
            result.append(ModuleState(module, "complete", str(record["completed"])[:10], note))
        elif "started" in record or (released is not None and released != current):
            result.append(ModuleState(module, "in progress", "", ""))
        else:
            result.append(ModuleState(module, "not started", "", ""))
    return result


def completed_tags(root: Path) -> set[str]:
    return {state.module.tag for state in states(root) if state.status == "complete"}
