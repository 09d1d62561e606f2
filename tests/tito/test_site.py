"""`tito book build | check`: the course site from a small repository, opened in headless Chromium.

The instructor's site shows the executed module (its test output) and renders code and math;
the site built inside a student release holds no line of any solution.
"""

from __future__ import annotations

import html
import os
import re
import shutil

import pytest
from grading_support import with_markers, write

from tito import site
from tito.errors import TitoError

# CI installs the site extra and Chromium (.ci/run), so there a missing one fails instead of skipping.
REQUIRED = bool(os.environ.get("CI"))
if not REQUIRED:
    pytest.importorskip("myst_nb", reason="the site needs the site extra: pip install -e '.[site]'")
    pytest.importorskip("sphinx_book_theme", reason="the site needs the site extra: pip install -e '.[site]'")

MODULE = '''# %% [markdown]
# # Module 01: doubling
#
# Doubling is the map $f(x) = 2x$, so the derivative is $f'(x) = 2$ everywhere.

# %%
#| default_exp core.tensor

# %%
#| export
import numpy as np


def double(x):
    """Twice x, elementwise: (N,) -> (N,)."""
    @@BEGIN
    doubled_by_the_solution = np.asarray(x) * 2
    return doubled_by_the_solution
    @@END


# %%
#| test
def test_unit_double():
    assert double([1, 2]).tolist() == [2, 4]
    print("test_unit_double: ok")


test_unit_double()

# %% [markdown]
# ## Next
#
# See the [guide](../guides/guide.md).
'''


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    from tito.export import export

    root = tmp_path_factory.mktemp("site") / "instructor"
    write(root, "modules/01_tensor/tensor.py", with_markers(MODULE))
    write(root, "tinytorch/__init__.py", '"""A tiny package for the site test."""\n')
    write(root, "tinytorch/core/__init__.py", "")
    write(root, "docs/guide.md", "# Guide\n\nHow to use `tito`. Back to [the chapter](../chapters/01_tensor.ipynb).\n")
    write(root, "milestones/README.md", "# Milestones\n\n| year | result |\n|---|---|\n| 1957 | 100% |\n")
    write(root, "README.md", "# Fake\n")
    export(root)
    return root


def test_the_site_builds_executes_the_module_and_passes_the_browser_check(repo, tmp_path, capsys):
    if not shutil.which("chromium") and not REQUIRED:
        pytest.skip("apt-get install chromium to run the browser check")
    html_dir, _seconds = site.build(repo, tmp_path / "site")
    progress = capsys.readouterr().out
    assert "reading chapters/01_tensor" in progress and "01_tensor: Executed notebook in" in progress
    chapter = (html_dir / "chapters" / "01_tensor.html").read_text()
    assert "test_unit_double: ok" in chapter, "the chapter should show the executed test cell's output"
    assert "doubled_by_the_solution" in chapter
    # The student-release test below searches the text without tags: here it finds the solution.
    assert "np.asarray(x) * 2" in html.unescape(re.sub(r"<[^>]+>", "", chapter))
    assert (html_dir / "api" / "tinytorch.core.tensor.html").read_text().count("Twice x, elementwise") == 1
    pages, problems, shots = site.check(html_dir, tmp_path / "shots")
    assert problems == [] and pages >= 5, problems
    assert [shot.name for shot in shots] == ["home.png", "01_tensor.png"]
    assert all(shot.stat().st_size > 10_000 for shot in shots), "a screenshot of a real page is not tiny"


def test_a_site_built_from_a_student_release_holds_no_solution(repo, tmp_path):
    from tito.release import build_student_release

    release = tmp_path / "release"
    build_student_release(repo, release)
    html_dir, _ = site.build(release, tmp_path / "site", execute=True)
    # Highlighted code is split into <span>s: compare the text a reader sees, not the markup.
    seen = "\n".join(
        html.unescape(re.sub(r"<[^>]+>", "", p.read_text(errors="replace")))
        for p in html_dir.rglob("*")
        if p.is_file() and p.suffix in {".html", ".txt", ".js", ".ipynb"}
    )
    assert "doubled_by_the_solution" not in seen and "np.asarray(x) * 2" not in seen
    assert "not implemented yet, see modules/01_tensor" in seen, "the executed stub shows its NotImplementedError"
    # That raised cell is what `tito book check` refuses on an instructor's site, and accepts with
    # --allow-errors (the marker is MyST-NB's class for an executed cell's exception).
    assert 'class="output traceback' in (html_dir / "chapters" / "01_tensor.html").read_text()
    if shutil.which("chromium") or REQUIRED:
        raised = [p for p in site.check(html_dir)[1] if "a cell raised" in p]
        assert [p.split(":")[0] for p in raised] == ["chapters/01_tensor.html"], raised
        assert not [p for p in site.check(html_dir, allow_errors=True)[1] if "a cell raised" in p]


def test_broken_internal_links_are_found(tmp_path):
    write(tmp_path, "index.html", '<a href="missing.html">x</a><img src="img/gone.png"><a href="https://x.org">ok</a>')
    assert site.broken_links(tmp_path) == ["index.html: missing.html", "index.html: img/gone.png"]
    with pytest.raises(TitoError, match="no HTML pages"):
        site.check(tmp_path / "empty")
