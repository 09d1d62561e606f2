"""Drawing a measured scaling in an analysis cell: a PNG beside the notebook, or text without matplotlib.

Analysis cells measure how something grows (time against size, memory against batch, speed-up
against threads); a line plot shows that at a glance. One call does the whole job:

    from tito.plots import plot_lines

    plot_lines("relu_time_vs_size", sizes, {"relu": relu_ms, "gelu": gelu_ms},
               xlabel="elements", ylabel="ms per call", title="time grows linearly with size",
               logx=True, logy=True)

- With matplotlib: the figure is saved as `<name>.png` in the module's folder (the folder of the
  calling script or notebook; `folder=` overrides it), shown inline when the call runs in a
  Jupyter kernel, and its path printed otherwise. The file is replaced atomically.
- Without matplotlib (a bare `pip install -e .`): the same data is drawn as a character plot,
  so the cell still runs and still shows the shape of the curve.

The helper lives in tito, not in tinytorch: it is course tooling for analysis cells (like the
inline test runner), not part of the framework a learner builds and exports, and the package must
not depend on matplotlib. It ships in every student release with the rest of tito/.
"""

from __future__ import annotations

import io
import math
import os
import sys
import tempfile
from pathlib import Path

WIDTH, HEIGHT = 56, 14  # the character plot's grid
MARKERS = "*o+x#@%&"


def _caller_folder(depth: int = 2) -> Path:
    """The folder of the script or notebook that called plot_lines (cwd in a notebook kernel)."""
    name = sys._getframe(depth).f_globals.get("__file__")
    return Path(name).resolve().parent if name else Path.cwd()


def _check(name: str, x, series: dict) -> tuple[list[float], dict[str, list[float]]]:
    if not isinstance(name, str) or not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ValueError(f"plot_lines: name must be a plain file stem like 'time_vs_size', got {name!r}")
    xs = [float(value) for value in x]
    if not xs:
        raise ValueError("plot_lines: x is empty; pass the sizes you measured")
    if not isinstance(series, dict) or not series:
        raise ValueError(f"plot_lines: series must be a non-empty dict {{label: values}}, got {series!r}")
    ys = {}
    for label, values in series.items():
        values = [float(value) for value in values]
        if len(values) != len(xs):
            raise ValueError(
                f"plot_lines: series {label!r} has {len(values)} values but x has {len(xs)}; "
                "give one value per x"
            )
        ys[str(label)] = values
    return xs, ys


def _scaled(values: list[float], log: bool) -> list[float]:
    if log:
        if any(v <= 0 for v in values):
            raise ValueError("plot_lines: a log axis needs positive values; pass logx/logy=False")
        return [math.log10(v) for v in values]
    return values


def text_plot(x, series: dict, xlabel: str = "", ylabel: str = "", title: str = "",
              logx: bool = False, logy: bool = False) -> str:
    """The series as a character plot: one marker per series, axis ranges, a legend."""
    xs, ys = _check("text", x, series)
    sx = _scaled(xs, logx)
    sy = {label: _scaled(values, logy) for label, values in ys.items()}
    every = [v for values in sy.values() for v in values]
    x0, x1 = min(sx), max(sx)
    y0, y1 = min(every), max(every)
    grid = [[" "] * WIDTH for _ in range(HEIGHT)]
    for marker, values in zip(MARKERS * 4, sy.values()):
        for vx, vy in zip(sx, values):
            col = round((vx - x0) / (x1 - x0) * (WIDTH - 1)) if x1 > x0 else 0
            row = round((vy - y0) / (y1 - y0) * (HEIGHT - 1)) if y1 > y0 else 0
            grid[HEIGHT - 1 - row][col] = marker
    top, bottom = max(max(v) for v in ys.values()), min(min(v) for v in ys.values())
    label_width = max(len(f"{top:.3g}"), len(f"{bottom:.3g}"))
    lines = [title] if title else []
    lines.append(f"{ylabel}{' (log scale)' if logy else ''}")
    for index, row in enumerate(grid):
        tick = f"{top:.3g}" if index == 0 else f"{bottom:.3g}" if index == HEIGHT - 1 else ""
        lines.append(f"{tick:>{label_width}} |" + "".join(row))
    lines.append(" " * label_width + " +" + "-" * WIDTH)
    left, right = f"{min(xs):.3g}", f"{max(xs):.3g}"
    lines.append(" " * (label_width + 2) + left + right.rjust(WIDTH - len(left)))
    lines.append(" " * (label_width + 2) + f"{xlabel}{' (log scale)' if logx else ''}")
    legend = "   ".join(f"{marker} {label}" for marker, label in zip(MARKERS * 4, ys))
    lines.append(" " * (label_width + 2) + legend)
    return "\n".join(lines)


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (where an image can be shown inline)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def plot_lines(name: str, x, series: dict, *, xlabel: str = "", ylabel: str = "", title: str = "",
               logx: bool = False, logy: bool = False, folder=None) -> Path | None:
    """Plot each series against x; returns the PNG's path, or None when drawn as text.

    name: file stem of the PNG; x: the measured sizes; series: {label: one value per x}.
    """
    xs, ys = _check(name, x, series)
    _scaled(xs, logx)  # reject data a log axis cannot show before drawing anything
    for values in ys.values():
        _scaled(values, logy)
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print(text_plot(xs, ys, xlabel, ylabel, title, logx, logy))
        print("(a character plot: `pip install matplotlib` draws it as a PNG)")
        return None
    figure = Figure(figsize=(6.4, 4.0), dpi=100)
    axes = figure.subplots()
    for label, values in ys.items():
        axes.plot(xs, values, marker="o", label=label)
    axes.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        axes.set_xscale("log")
    if logy:
        axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    if len(ys) > 1:
        axes.legend()
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png")
    target = Path(folder) if folder is not None else _caller_folder()
    path = target / f"{name}.png"
    target.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target, prefix=f".{name}.", suffix=".tmp")
    with os.fdopen(handle, "wb") as stream:
        stream.write(png.getvalue())
    os.replace(temporary, path)
    if _in_notebook():
        from IPython.display import Image, display

        display(Image(data=png.getvalue()))
    else:
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        print(f"plot saved to {shown.as_posix()}")
    return path
