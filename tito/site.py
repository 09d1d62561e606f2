"""`tito book build | check`: the course website, built from modules/ with Sphinx + MyST-NB.

    tito book build [--out build/site] [--no-execute] [MODULE ...]
    tito book check [--out build/site] [--screenshots DIR] [--allow-errors]

`build` writes a Sphinx project into OUT/_source and builds OUT/html from it, offline:
- one chapter per module: the module file as a notebook (jupytext), executed by MyST-NB so the
  outputs of its analysis and test cells are on the page (errors are shown, not fatal: a site
  built in a student release shows the stubs' NotImplementedError, never a solution);
- the milestones page (milestones/README.md, with its measured results);
- the guides: every docs/*.md (tito, classroom, design, module format, ...);
- an API reference from the docstrings (autodoc over every module of the tinytorch package).
Math renders with a local MathJax when Debian's libjs-mathjax is installed (no CDN needed).

`check` opens every page in headless Chromium (Debian's `chromium`): every page must load, no
internal link, script, stylesheet or image may point at a missing file, highlighted code must be
on the chapters and rendered math wherever the page has math, and no chapter may show a cell that
raised (unless `--allow-errors`: a student release's stubs raise by design); it saves screenshots
of the home page and one chapter. Needs the `site` extra: `pip install -e '.[site]'`.
"""

from __future__ import annotations

import collections
import html.parser
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tito.errors import TitoError
from tito.export import find_modules, select_modules
from tito.fileio import write_atomically
from tito.procs import repo_env
from tito.regions import MARKER

LOCAL_MATHJAX = Path("/usr/share/javascript/mathjax")
DEFAULT_OUT = Path("build") / "site"

CONF = '''"""Sphinx configuration written by `tito book build` (regenerated on every build)."""

project = "TinyTorch"
author = "the TinyTorch course"
extensions = ["myst_nb", "sphinx.ext.autodoc"]
html_theme = "sphinx_book_theme"
html_title = "TinyTorch"
html_theme_options = {{"show_toc_level": 2, "use_download_button": False}}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = {execution!r}
nb_execution_timeout = 600
nb_execution_allow_errors = True
nb_execution_raise_on_error = False
nb_merge_streams = True
autodoc_member_order = "bysource"
autodoc_default_options = {{"members": True, "undoc-members": False}}
suppress_warnings = ["myst.xref_missing", "myst.header", "misc.highlighting_failure", "mystnb.unknown_mime_type"]
{mathjax}
'''


MATHJAX_PARTS = (  # MathJax 2 with the TeX input and the CommonHTML output: about 1.5 MB of 54
    "MathJax.js",
    "config/TeX-AMS_CHTML.js",
    "extensions",
    "jax/input/TeX",
    "jax/element",
    "jax/output/CommonHTML",
    "fonts/HTML-CSS/TeX/woff",
)


def _mathjax_settings(source: Path) -> str:
    """Copy the parts of Debian's MathJax 2 the pages use, so math renders offline."""
    if not (LOCAL_MATHJAX / "MathJax.js").is_file():
        return "# no local MathJax (apt-get install libjs-mathjax): Sphinx's default CDN copy is used"
    static = source / "_mathjax"
    for part in MATHJAX_PARTS:
        origin, target = LOCAL_MATHJAX / part, static / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target)
        elif origin.is_file():
            shutil.copyfile(origin, target)
    return (
        'html_static_path = ["_mathjax"]\n'
        'mathjax_path = "MathJax.js?config=TeX-AMS_CHTML"\n'
        # MyST-NB marks notebook sections tex2jax_ignore and math spans `math`: process those.
        'mathjax2_config = {"showMathMenu": False, "tex2jax": {"inlineMath": [["\\\\(", "\\\\)"]], '
        '"displayMath": [["\\\\[", "\\\\]"]], "processEscapes": True, '
        '"ignoreClass": "document|tex2jax_ignore|mathjax_ignore", "processClass": "math|output_area"}}'
    )


def _notebook(module, target: Path) -> None:
    import jupytext

    notebook = jupytext.read(module.source, fmt="py:percent")
    # The export target is plumbing, and the solution markers are noise on a page (a student
    # release has no regions left, so nothing changes there).
    notebook.cells = [c for c in notebook.cells if not c.source.lstrip().startswith("#| default_exp")]
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = "\n".join(line for line in cell.source.splitlines() if not MARKER.match(line))
    notebook.metadata.pop("jupytext", None)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(notebook, target, fmt="ipynb")


def _package_modules(root: Path) -> list[str]:
    """Dotted names of every module file of the package (generated and hand-written)."""
    names = []
    for path in sorted((root / "tinytorch").rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(root).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def write_sources(root: Path, source: Path, modules, execute: bool) -> None:
    """The Sphinx project: conf.py, index, chapters, milestones, guides, API reference."""
    if source.exists():
        shutil.rmtree(source)
    (source / "chapters").mkdir(parents=True)
    settings = _mathjax_settings(source)
    write_atomically(source / "conf.py", CONF.format(execution="force" if execute else "off", mathjax=settings))
    chapters = []
    for module in modules:
        _notebook(module, source / "chapters" / f"{module.tag}.ipynb")
        chapters.append(f"chapters/{module.tag}")
    guides = []
    for path in sorted((root / "docs").glob("*.md")) if (root / "docs").is_dir() else []:
        (source / "guides").mkdir(exist_ok=True)
        shutil.copyfile(path, source / "guides" / path.name)
        guides.append(f"guides/{path.stem}")
    has_milestones = (root / "milestones" / "README.md").is_file()
    if has_milestones:
        shutil.copyfile(root / "milestones" / "README.md", source / "milestones.md")
    api = []
    (source / "api").mkdir()
    for name in _package_modules(root):
        write_atomically(source / "api" / f"{name}.md", f"# `{name}`\n\n```{{eval-rst}}\n.. automodule:: {name}\n```\n")
        api.append(name)
    write_atomically(
        source / "api" / "index.md", _toctree("API reference", api, "Every module of the package, from its docstrings.")
    )
    intro = "Build a deep-learning framework from first principles in Python and NumPy, then train real models with it."
    sections = [
        _section("Modules", chapters),
        _section("Milestones", ["milestones"] if has_milestones else []),
        _section("Guides", guides),
        _section("Reference", ["api/index"]),
    ]
    write_atomically(source / "index.md", f"# TinyTorch\n\n{intro}\n\n" + "\n".join(s for s in sections if s))


def _toctree(title: str, entries: list[str], text: str) -> str:
    body = "\n".join(entries)
    return f"# {title}\n\n{text}\n\n```{{toctree}}\n:maxdepth: 1\n\n{body}\n```\n"


def _section(caption: str, entries: list[str]) -> str:
    if not entries:
        return ""
    return f"```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n\n" + "\n".join(entries) + "\n```\n"


def build(root: Path, out: Path, wanted: list[str] | None = None, execute: bool = True) -> tuple[Path, float]:
    """Write the sources and run Sphinx; returns (the html folder, seconds it took)."""
    try:
        import myst_nb  # noqa: F401
        import sphinx_book_theme  # noqa: F401
    except ImportError:
        raise TitoError("building the site needs the site extra: pip install -e '.[site]'") from None
    modules = select_modules(root, wanted) if wanted else find_modules(root)
    started = time.monotonic()
    source, html_dir = out / "_source", out / "html"
    write_sources(root, source, modules, execute)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-N", "-E", str(source), str(html_dir)]
    process = subprocess.Popen(
        command, cwd=root, env=repo_env(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    tail: collections.deque[str] = collections.deque(maxlen=80)  # what a failure shows
    for line in process.stdout:
        tail.append(line)
        shown = _progress(line, started)
        if shown:
            print(shown, flush=True)
    code = process.wait()
    if code != 0:
        raise TitoError(f"sphinx failed (exit {code}):\n{''.join(tail)[-3000:]}")
    return html_dir, time.monotonic() - started


def _progress(line: str, started: float) -> str | None:
    """One line per page read and per module executed (executing every module takes minutes)."""
    found = re.search(r"reading sources\.\.\. \[\s*(\d+%)\] (\S+)", line)
    if found:
        return f"  [{time.monotonic() - started:6.0f} s] {found.group(1):>4} reading {found.group(2)}"
    found = re.search(r"(\S+)\.ipynb: (Executed notebook in [\d.]+ seconds|Executing notebook failed.*)", line)
    if found:
        return f"  [{time.monotonic() - started:6.0f} s]      {Path(found.group(1)).name}: {found.group(2).strip()}"
    return None


# ---------------------------------------------------------------- checking the built site


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        values = dict(attrs)
        if "id" in values:
            self.ids.add(values["id"])
        for key in ("href", "src"):
            if values.get(key) and tag in ("a", "link", "img", "script", "source"):
                self.targets.append(values[key])


def broken_links(html_dir: Path) -> list[str]:
    """Internal href/src targets that do not exist, as 'page: target'."""
    problems = []
    for page in sorted(html_dir.rglob("*.html")):
        if "_static" in page.parts or "_sources" in page.parts:
            continue
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        for target in parser.targets:
            parts = urlsplit(target)
            if parts.scheme or target.startswith(("#", "//", "mailto:", "data:", "javascript:")):
                continue
            path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not path.exists():
                problems.append(f"{page.relative_to(html_dir)}: {target}")
    return problems


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise TitoError("no Chromium found: apt-get install chromium (Debian) to check the site in a browser")


def _browser(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
             "--no-first-run", "--disable-extensions", "--allow-file-access-from-files"]  # fmt: skip
    return subprocess.run([chromium(), *flags, *args], capture_output=True, text=True, timeout=timeout)


def rendered_dom(page: Path) -> str:
    """The page's DOM after its scripts ran (MathJax typesets within the virtual time budget)."""
    done = _browser("--virtual-time-budget=15000", "--dump-dom", page.resolve().as_uri())
    if done.returncode != 0 or "<html" not in done.stdout:
        raise TitoError(f"Chromium could not load {page}: {done.stderr[-500:]}")
    return done.stdout


def screenshot(page: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    done = _browser(
        "--virtual-time-budget=15000", "--window-size=1280,1000", f"--screenshot={target}", page.resolve().as_uri()
    )
    if done.returncode != 0 or not target.is_file():
        raise TitoError(f"Chromium could not take a screenshot of {page}: {done.stderr[-500:]}")
    return target


def check(
    html_dir: Path, screenshots: Path | None = None, allow_errors: bool = False
) -> tuple[int, list[str], list[Path]]:
    """(pages opened, problems, screenshots): every page in Chromium, links, code, math, and
    (unless allow_errors) no executed cell that raised."""
    pages = [p for p in sorted(html_dir.rglob("*.html")) if "_static" not in p.parts and "_sources" not in p.parts]
    if not pages:
        raise TitoError(f"{html_dir} holds no HTML pages; run `tito book build` first")
    problems = broken_links(html_dir)
    with ThreadPoolExecutor(max_workers=2) as pool:  # one Chromium per page, two at a time
        doms = list(pool.map(rendered_dom, pages))
    for page, dom in zip(pages, doms):
        static = page.read_text(encoding="utf-8", errors="replace")
        name = page.relative_to(html_dir).as_posix()
        if "</body>" not in dom:
            problems.append(f"{name}: the page did not finish loading")
        if name.startswith("chapters/") and 'class="highlight' not in static:
            problems.append(f"{name}: no highlighted code")
        if not allow_errors and name.startswith("chapters/") and 'class="output traceback' in static:
            # MyST-NB renders an executed cell's exception with these classes: the module is broken.
            problems.append(f"{name}: a cell raised when the module was executed (its traceback is on the page)")
        if 'class="math' in static and "MJXc-" not in dom and "mjx-chtml" not in dom:
            problems.append(f"{name}: math did not render (MathJax produced no typeset output)")
    shots = []
    if screenshots is not None:
        shots.append(screenshot(html_dir / "index.html", screenshots / "home.png"))
        chapters = sorted((html_dir / "chapters").glob("*.html"))
        if chapters:
            shots.append(screenshot(chapters[0], screenshots / f"{chapters[0].stem}.png"))
    return len(pages), problems, shots


# ---------------------------------------------------------------- command line


def register(commands, leaf) -> None:
    from tito.repo import project_root

    book = commands.add_parser("book", help="the course website: build it from modules/, check it in Chromium")
    actions = book.add_subparsers(dest="book_command", required=True, metavar="ACTION")
    build_parser = actions.add_parser("build", help="build the site (Sphinx + MyST-NB, executes every module)")
    build_parser.add_argument("modules", nargs="*", metavar="MODULE", help="chapters to build (default: all)")
    build_parser.add_argument("--out", default=None, metavar="DIR", help=f"output folder (default {DEFAULT_OUT})")
    build_parser.add_argument("--no-execute", action="store_true", help="do not run the modules (no outputs)")

    def run_build(args) -> int:
        root = project_root()
        out = Path(args.out) if args.out else root / DEFAULT_OUT
        html_dir, seconds = build(root, out, args.modules, not args.no_execute)
        print(f"site built in {seconds:.1f} s: {html_dir / 'index.html'}")
        return 0

    leaf(build_parser, run_build)
    check_parser = actions.add_parser("check", help="open every page in headless Chromium; links, code, math")
    check_parser.add_argument("--out", default=None, metavar="DIR", help=f"the build folder (default {DEFAULT_OUT})")
    check_parser.add_argument("--screenshots", default=None, metavar="DIR", help="save home and chapter screenshots")
    check_parser.add_argument(
        "--allow-errors", action="store_true", help="accept cells that raised (a student release's stubs do)"
    )

    def run_check(args) -> int:
        root = project_root()
        out = Path(args.out) if args.out else root / DEFAULT_OUT
        shots_dir = Path(args.screenshots) if args.screenshots else None
        count, problems, shots = check(out / "html", shots_dir, allow_errors=args.allow_errors)
        for problem in problems:
            print(f"FAIL {problem}")
        for shot in shots:
            print(f"screenshot: {shot}")
        print(f"{count} page(s) opened in Chromium, {len(problems)} problem(s)")
        return 1 if problems else 0

    leaf(check_parser, run_check)
