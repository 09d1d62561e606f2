"""Keeping a module's notebook and its .py file in step, without the Jupyter extension.

`modules/NN_name/name.py` is what tito exports and tests; `name.ipynb` (made by `tito module
start`) is where many learners edit. With jupytext's Jupyter integration installed, saving the
notebook rewrites the .py too; without it, nothing would, and tito would test stale code. So
before every export, test and complete, tito syncs each pair itself:

- only the notebook changed since the last sync: the .py is rewritten from it (one line says so);
- only the .py changed: the notebook's cells are rewritten from it, its outputs kept;
- both changed and they now differ: tito refuses and says how to keep one (`tito module sync`).

"Changed" means the file's SHA-256 differs from the one recorded at the last sync, in
`.tito/pairs.json` (JSON, written atomically, git-ignored like the rest of .tito/). Without a
record (the notebook predates it), the newer file by modification time wins.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from tito.errors import TitoError, UsageError
from tito.export import ModuleInfo, find_modules, select_modules
from tito.fileio import sha256_of, write_atomically

PAIRS = Path(".tito") / "pairs.json"
BACKUPS = Path(".tito") / "backups"
INSTALL_HINT = "pip install -e '.[learn]'"


class PairConflict(TitoError):
    """Both files of a pair changed since the last sync; the learner has to choose."""


def notebook_of(module: ModuleInfo) -> Path:
    return module.source.with_suffix(".ipynb")


def _jupytext():
    try:
        import jupytext
    except ImportError:
        return None
    return jupytext


def _load(root: Path) -> dict:
    path = root / PAIRS
    if not path.is_file():
        return {"format": 1, "pairs": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("pairs"), dict):
        # Only hashes live here, no learner work: a damaged record is rebuilt from timestamps.
        return {"format": 1, "pairs": {}}
    return data


def record(root: Path, module: ModuleInfo) -> None:
    """Remember both files' current hashes as the synced state of the pair."""
    data = _load(root)
    data["pairs"][module.tag] = {
        "py": sha256_of(module.source),
        "ipynb": sha256_of(notebook_of(module)),
        "synced": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    write_atomically(root / PAIRS, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _header(text: str) -> str:
    """Everything before the first cell (the jupytext YAML header, if any)."""
    index = text.find("\n# %%")
    if text.startswith("# %%"):
        return ""
    return text[: index + 1] if index >= 0 else ""


def notebook_as_py(jupytext, notebook: Path, current_py: str) -> str:
    """The notebook written as a percent script, keeping the .py's own header.

    jupytext stamps its version into the header it writes; keeping the existing header means a
    sync changes only the cells the learner edited.
    """
    text = jupytext.writes(jupytext.read(notebook), fmt="py:percent")
    return _header(current_py) + text[len(_header(text)) :]


def new_notebook(module: ModuleInfo) -> None:
    """Create `name.ipynb` from the module's .py (used by `tito module start`)."""
    jupytext = _jupytext()
    if jupytext is None:
        raise TitoError(f"jupytext is not installed, so no notebook can be made; {INSTALL_HINT}")
    data = jupytext.read(module.source, fmt="py:percent")
    data.metadata.setdefault("jupytext", {})["formats"] = "ipynb,py:percent"
    data.metadata.setdefault(
        "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
    )
    _write_notebook(jupytext, data, notebook_of(module))


def _write_notebook(jupytext, data, path: Path) -> None:
    write_atomically(path, jupytext.writes(data, fmt="ipynb"))


def _py_from_notebook(root: Path, jupytext, module: ModuleInfo, text: str) -> str:
    write_atomically(module.source, text)
    record(root, module)
    return (
        f"synced {module.source.relative_to(root).as_posix()} from {notebook_of(module).name} "
        "(the notebook was newer)"
    )


def _notebook_from_py(root: Path, jupytext, module: ModuleInfo) -> str:
    from jupytext.combine import combine_inputs_with_outputs

    notebook = notebook_of(module)
    inputs = jupytext.read(module.source, fmt="py:percent")
    old = jupytext.read(notebook)
    merged = combine_inputs_with_outputs(inputs, old, fmt="py:percent")
    merged.metadata = old.metadata
    _write_notebook(jupytext, merged, notebook)
    record(root, module)
    return (
        f"synced {notebook.relative_to(root).as_posix()} from {module.source.name} "
        "(the .py was newer; reload the notebook if it is open)"
    )


def sync_module(root: Path, module: ModuleInfo) -> str | None:
    """Bring one pair into step; returns the one line to print, or None when nothing changed."""
    notebook = notebook_of(module)
    if not notebook.is_file():
        return None
    saved = _load(root)["pairs"].get(module.tag)
    py_sha, nb_sha = sha256_of(module.source), sha256_of(notebook)
    if saved and saved.get("py") == py_sha and saved.get("ipynb") == nb_sha:
        return None
    nb_shown = notebook.relative_to(root).as_posix()
    jupytext = _jupytext()
    if jupytext is None:
        raise TitoError(
            f"{nb_shown} changed, but jupytext is not installed, so tito cannot read it into "
            f"{module.source.name}; {INSTALL_HINT}"
        )
    py_text = module.source.read_text(encoding="utf-8")
    try:
        from_notebook = notebook_as_py(jupytext, notebook, py_text)
    except Exception as error:  # a damaged .ipynb (bad JSON) must not crash tito
        raise TitoError(
            f"{nb_shown} cannot be read ({type(error).__name__}: {error}); fix it in Jupyter, or "
            f"delete it and run `tito module start {module.number}` to make it again from "
            f"{module.source.name}"
        ) from None
    if from_notebook == py_text:
        record(root, module)
        return None
    if saved is None:
        if notebook.stat().st_mtime > module.source.stat().st_mtime:
            return _py_from_notebook(root, jupytext, module, from_notebook)
        return _notebook_from_py(root, jupytext, module)
    py_changed, nb_changed = saved.get("py") != py_sha, saved.get("ipynb") != nb_sha
    if nb_changed and not py_changed:
        return _py_from_notebook(root, jupytext, module, from_notebook)
    if py_changed and not nb_changed:
        return _notebook_from_py(root, jupytext, module)
    raise PairConflict(
        f"{module.source.relative_to(root).as_posix()} and {notebook.name} were both edited since "
        f"tito last synced them ({saved.get('synced', 'earlier')}) and now differ; keep one:\n"
        f"  tito module sync {module.number} --keep notebook   (rewrite the .py from the notebook)\n"
        f"  tito module sync {module.number} --keep py         (rewrite the notebook from the .py)\n"
        f"  the file that is replaced is first copied to {BACKUPS.as_posix()}/"
    )


def sync_pairs(root: Path, wanted: list[str] | None = None) -> list[str]:
    """Sync every chosen module that has a notebook, printing one line per file rewritten."""
    modules = find_modules(root) if not wanted else select_modules(root, wanted)
    lines = []
    for module in modules:
        line = sync_module(root, module)
        if line:
            print(line)
            lines.append(line)
    return lines


def keep(root: Path, module: ModuleInfo, side: str) -> str:
    """Resolve a conflict: `side` ("notebook" or "py") overwrites the other, after a backup."""
    notebook = notebook_of(module)
    if not notebook.is_file():
        raise UsageError(
            f"argument --keep: {notebook.relative_to(root).as_posix()} does not exist, so there "
            f"is nothing to sync; `tito module start {module.number}` creates it"
        )
    jupytext = _jupytext()
    if jupytext is None:
        raise TitoError(f"jupytext is not installed; {INSTALL_HINT}")
    replaced = module.source if side == "notebook" else notebook
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = root / BACKUPS / f"{replaced.name}.{stamp}"
    backup.parent.mkdir(parents=True, exist_ok=True)
    backup.write_bytes(replaced.read_bytes())
    if side == "notebook":
        py_text = module.source.read_text(encoding="utf-8")
        line = _py_from_notebook(root, jupytext, module, notebook_as_py(jupytext, notebook, py_text))
    else:
        line = _notebook_from_py(root, jupytext, module)
    return f"{line}; the old {replaced.name} is in {backup.relative_to(root).as_posix()}"
