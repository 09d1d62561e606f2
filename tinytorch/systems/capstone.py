# Generated from modules/20_capstone/capstone.py by `tito export`. Do not edit: edit the module.

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tinytorch.core.layers import Module
from tinytorch.core.training import _atomic_write
from tinytorch.systems.benchmarking import EVENTS, benchmark_model


def file_size(save: Callable[[str], object]) -> int:
    """Bytes of the weights file `save(path)` writes (into a temporary folder, removed afterwards)."""
    if not callable(save):
        raise TypeError(f"file_size: save must be a function path -> None, got {type(save).__name__}")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "weights.npz")
        save(path)
        if not os.path.isfile(path):
            raise ValueError("file_size: save(path) wrote no file at the path it was given")
        return os.path.getsize(path)


def measure_entry(model: Module, inputs, labels, save: Callable[[str], object], *, repeats: int = 30,
                  warmup: int = 3) -> dict:
    """benchmark_model(...).to_dict() with `size_bytes` from `save`, without the per-image predictions."""
    result = benchmark_model(model, inputs, labels, warmup=warmup, repeats=repeats).to_dict()
    result.pop("predictions")
    result["size_bytes"] = file_size(save)
    return result


@dataclass
class Step:
    """One rung: `apply(model) -> new model`, `save(model, path)` writes it as it will be submitted."""

    name: str
    technique: str
    apply: Callable[[Module], Module]
    save: Callable[[Module, str], object]


def _check_steps(steps) -> list:
    steps = list(steps)
    if not steps or not all(isinstance(s, Step) for s in steps):
        raise TypeError("optimization_ladder: steps must be a non-empty list of Step, got "
                        f"{[type(s).__name__ for s in steps]}")
    return steps


def optimization_ladder(model: Module, steps, inputs, labels, *, repeats: int = 30, warmup: int = 3) -> list:
    """Apply `steps` one after the other to `model`, measuring the model after every step.

    One row per step: {"name", "technique", "model", "result"}, result = measure_entry(...) on
    (inputs, labels). Make the first step the starting point itself (apply=lambda m: m), so the
    table has its reference row.
    """
    if not isinstance(model, Module):
        raise TypeError(f"optimization_ladder: model must be a tinytorch Module, got {type(model).__name__}")
    steps = _check_steps(steps)
    rows = []
    current = model
    # Hint: for each step, current = step.apply(current) (refuse a result that is not a Module, with
    #       the step's name in the message); then measure it with measure_entry, whose save is
    #       `lambda path: step.save(current_model, path)` (bind the model now: a lambda that reads
    #       `current` later would save the *last* model for every rung), and append
    #       {"name": step.name, "technique": step.technique, "model": that model, "result": ...}.
    for step in steps:
        current = step.apply(current)
        if not isinstance(current, Module):
            raise TypeError(f"optimization_ladder: step {step.name!r} returned {type(current).__name__}, "
                            "not a tinytorch Module")
        result = measure_entry(current, inputs, labels, lambda path, m=current, s=step: s.save(m, path),
                               repeats=repeats, warmup=warmup)
        rows.append({"name": step.name, "technique": step.technique, "model": current, "result": result})
    return rows


COLUMNS = ("step", "accuracy", "Δ pp", "latency p50 ms", "speed-up", "samples/s", "peak MB", "size bytes", "smaller")


def ladder_rows(rows) -> list:
    """The table's cells (strings), one list per row; ratios are to the first row."""
    if not rows:
        raise ValueError("ladder_rows: expected at least one measured row, got none")
    first = rows[0]["result"]
    cells = []
    # Hint: per row r = row["result"]: accuracy as a percent with 2 decimals, its change from the first
    #       row's in percentage points (signed, 2 decimals: "+0.00"), latency_ms["p50"] with 3 decimals,
    #       speed-up = first p50 / this p50 and size reduction = first size_bytes / this size_bytes as
    #       "1.00x", throughput_per_s as a whole number with thousands separators, peak_memory_mb with 2
    #       decimals, size_bytes with thousands separators.
    for row in rows:
        r = row["result"]
        cells.append([
            row["name"],
            f"{r['accuracy']:.2%}",
            f"{(r['accuracy'] - first['accuracy']) * 100:+.2f}",
            f"{r['latency_ms']['p50']:.3f}",
            f"{first['latency_ms']['p50'] / r['latency_ms']['p50']:.2f}x",
            f"{r['throughput_per_s']:,.0f}",
            f"{r['peak_memory_mb']:.2f}",
            f"{r['size_bytes']:,}",
            f"{first['size_bytes'] / r['size_bytes']:.2f}x",
        ])
    return cells


def ladder_table(rows) -> str:
    """ladder_rows as aligned text, a header and a rule first."""
    cells = [list(COLUMNS), *ladder_rows(rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def local_scores(result: dict, baseline: dict, events: dict | None = None) -> dict:
    """{event key: (eligible, reason, score or None)} for `result` against `baseline` (dicts as
    measure_entry returns them), for every event in `events` (default: module 19's EVENTS)."""
    events = EVENTS if events is None else events
    for name, value in (("result", result), ("baseline", baseline)):
        if not isinstance(value, dict):
            raise TypeError(f"local_scores: {name} must be a dict from measure_entry, got {type(value).__name__}")
    scores = {}
    # Hint: for each event: ok, reason = event.eligible(result, baseline); the score is
    #       event.score(result, baseline) when ok, else None (score raises Disqualified below the floor).
    for key, event in events.items():
        ok, reason = event.eligible(result, baseline)
        scores[key] = (ok, reason, float(event.score(result, baseline)) if ok else None)
    return scores


def make_manifest(name: str, team: str, events, techniques, options: dict | None = None) -> dict:
    """The submission.json fields; events must be keys of EVENTS, techniques non-empty strings."""
    events, techniques = list(events), list(techniques)
    for label, value in (("name", name), ("team", team)):
        if not isinstance(value, str) or not value.strip() or len(value) > 64:
            raise ValueError(f"make_manifest: {label} must be a non-empty string of at most 64 characters, "
                             f"got {value!r}")
    # Hint: refuse an empty events list, an unknown event (name the known ones: sorted(EVENTS)) and
    #       an empty techniques list or a technique that is not a non-empty string ("none" for a plain
    #       model), each with a ValueError naming the argument; then return the dict with
    #       "model": "model.py", "weights": "weights.npz" and options ({} when None).
    unknown = [e for e in events if e not in EVENTS]
    if not events or unknown:
        raise ValueError(f"make_manifest: events must list one or more of {sorted(EVENTS)}, got {events}")
    if not techniques or not all(isinstance(t, str) and t.strip() for t in techniques):
        raise ValueError(f"make_manifest: techniques must list what you did as non-empty strings ('none' for a "
                         f"plain model), got {techniques}")
    return {"name": name, "team": team, "events": events, "techniques": techniques, "model": "model.py",
            "weights": "weights.npz", "options": dict(options or {})}


def write_submission(folder, model_file, save: Callable[[str], object], manifest: dict) -> Path:
    """Make the submission folder: model.py (a copy of `model_file`), weights.npz via save(path),
    then submission.json (written atomically, last). Returns the folder."""
    folder, model_file = Path(folder), Path(model_file)
    if not model_file.is_file() or model_file.suffix != ".py":
        raise ValueError(f"write_submission: model_file must be an existing .py file, got {model_file}")
    if (folder / "submission.json").exists():
        raise FileExistsError(f"write_submission: {folder} already holds a submission; choose a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_file, folder / "model.py")
    save(str(folder / "weights.npz"))
    text = json.dumps(manifest, indent=2) + "\n"
    _atomic_write(folder / "submission.json", lambda f: f.write(text.encode()))
    return folder
