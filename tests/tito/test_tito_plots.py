"""tito.plots: the analysis cells' plot helper (PNG beside the module, text without matplotlib)."""

from __future__ import annotations

import sys

import pytest

from tito.plots import plot_lines, text_plot

SIZES = [1e3, 1e4, 1e5, 1e6]
TIMES = {"relu": [0.01, 0.1, 1.0, 10.0], "gelu": [0.05, 0.5, 5.0, 50.0]}


def test_text_plot_draws_each_series_with_its_own_marker():
    text = text_plot(SIZES, TIMES, "elements", "ms", "time vs size", logx=True, logy=True)
    lines = text.splitlines()
    assert lines[0] == "time vs size" and "ms (log scale)" in lines[1]
    grid = lines[2:16]
    # Log-log straight lines: relu's smallest point at the bottom left, gelu's largest top right.
    assert grid[-1].split("|", 1)[1].startswith("*") and grid[0].rstrip().endswith("o")
    assert "* relu" in text and "o gelu" in text and "elements (log scale)" in text
    assert "50" in grid[0] and "0.01" in grid[-1]  # the y range, as measured


def test_plot_saves_a_png_beside_the_caller(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = plot_lines("time_vs_size", SIZES, TIMES, xlabel="elements", logx=True, logy=True, folder=tmp_path)
    assert path == tmp_path / "time_vs_size.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "plot saved to" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["time_vs_size.png"]  # no temporary file left


def test_without_matplotlib_the_cell_still_shows_the_curve(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # `import` fails as if not installed
    assert plot_lines("t", SIZES, TIMES, folder=tmp_path) is None
    out = capsys.readouterr().out
    assert "* relu" in out and "pip install matplotlib" in out
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name, x, series, match", [
    ("a/b", SIZES, TIMES, "name must be a plain file stem"),
    ("t", [], TIMES, "x is empty"),
    ("t", SIZES, {"relu": [1.0]}, "series 'relu' has 1 values but x has 4"),
    ("t", SIZES, {}, "series must be a non-empty dict"),
])
def test_bad_arguments_are_named(name, x, series, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        plot_lines(name, x, series, folder=tmp_path)


def test_a_log_axis_refuses_non_positive_values(tmp_path):
    with pytest.raises(ValueError, match="log axis needs positive values"):
        plot_lines("t", [0, 1, 2, 3], TIMES, logx=True, folder=tmp_path)
