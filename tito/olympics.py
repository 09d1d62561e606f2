"""`tito olympics submit|validate|leaderboard`: the TorchPerf Olympics of module 20.

A submission is a folder with `submission.json`:

    {"name": "lenet5-int8", "team": "ada", "events": ["memory_challenge"],
     "techniques": ["int8 static quantization"], "model": "model.py", "weights": "weights.npz",
     "options": {}}

`model` is a Python file using the learner's framework that defines
`load_model(weights_path, **options) -> Module`; `weights` is an .npz. `submit` checks the manifest
and copies the two files into the store (default `.tito/olympics/`). `validate` runs each pending
submission in its own process (tito/olympics_child.py, started by the grader's sandbox.run_child
with a wall-time and memory limit) on the held-out images of datasets/olympics_mnist.npz; the
labels stay in this process, which scores the child's predictions. The measurement is module 19's
`benchmark_model`; each event's accuracy floor is `Event.eligible` against the reference
(olympics/baselines/lenet5, measured first in the same store) and its score `Event.score`. A crash,
a timeout, the memory limit, a bad weights file, tampering or an attempt to read the labels is a
recorded failure for that submission only. `leaderboard` prints the tables and writes a static
HTML page.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from tito.errors import TitoError, UsageError
from tito.fileio import sha256_of
from tito.grading import harness, sandbox
from tito.grading.cli import _positive
from tito.grading.grader import _signal_reason, now_iso
from tito.olympics_store import Store, Submission

DEFAULT_STORE = Path(".tito") / "olympics"
HELDOUT = Path("datasets") / "olympics_mnist.npz"
HELDOUT_SHA256 = "cd5c84e8e02c1678c55077e9deb7a61498c9163cc3448dcdd30aa6755a7fca0b"
REFERENCE = Path("olympics") / "baselines" / "lenet5"
BASELINES = Path("olympics") / "baselines"
MEAN, STD = 0.1307, 0.3081  # the normalization the rules promise every submission's inputs
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$")
FIELDS = {"name": str, "team": str, "events": list, "techniques": list, "model": str, "weights": str,
          "options": dict}
MAX_WEIGHTS = 64 << 20
CHILD = Path(__file__).with_name("olympics_child.py")


def events() -> dict:
    """Module 19's EVENTS (imported when needed: tito must start even if module 19 is unfinished)."""
    try:
        from tinytorch.systems.benchmarking import EVENTS
    except ImportError as error:
        raise TitoError(f"module 19's benchmarking (tinytorch/systems/benchmarking.py) cannot be imported: {error}; "
                        "export and complete modules/19_benchmarking first") from None
    return EVENTS


# ---------------------------------------------------------------------------------- submit


def read_manifest(path: Path) -> tuple[dict, Path, Path]:
    """The checked manifest and the model and weights files it names. UsageError says what is wrong."""
    manifest_path = path / "submission.json" if path.is_dir() else path
    shown = str(manifest_path)
    if not manifest_path.is_file():
        raise UsageError(f"argument SUBMISSION: expected a folder holding submission.json (or the file), got {path}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise UsageError(f"{shown}: expected a JSON object, could not parse it ({error})") from None
    if not isinstance(manifest, dict):
        raise UsageError(f"{shown}: expected a JSON object, got {type(manifest).__name__}")
    manifest.setdefault("options", {})
    unknown = sorted(set(manifest) - set(FIELDS))
    if unknown:
        raise UsageError(f"{shown}: unknown field(s) {unknown}; expected only {sorted(FIELDS)}")
    for field, kind in FIELDS.items():
        if not isinstance(manifest.get(field), kind):
            got = type(manifest[field]).__name__ if field in manifest else "nothing"
            raise UsageError(f"{shown}: field {field!r} must be a {kind.__name__}, got {got}")
    for field in ("name", "team"):
        if not NAME.match(manifest[field]):
            raise UsageError(f"{shown}: field {field!r} must be 1-64 letters, digits, space, '.', '_' or '-' "
                             f"starting with a letter or digit, got {manifest[field]!r}")
    known = events()
    if not manifest["events"] or len(set(manifest["events"])) != len(manifest["events"]):
        raise UsageError(f"{shown}: field 'events' must list one or more distinct events, got {manifest['events']}")
    for event in manifest["events"]:
        if event not in known:
            raise UsageError(f"{shown}: unknown event {event!r}; the events are {sorted(known)}")
    if not manifest["techniques"] or not all(isinstance(t, str) and t.strip() for t in manifest["techniques"]):
        raise UsageError(f"{shown}: field 'techniques' must list what you did as non-empty strings "
                         f"(\"none\" for a plain model), got {manifest['techniques']}")
    json.dumps(manifest["options"])  # already JSON: it came from a JSON file
    model = (manifest_path.parent / manifest["model"]).resolve()
    weights = (manifest_path.parent / manifest["weights"]).resolve()
    if model.suffix != ".py" or not model.is_file():
        raise UsageError(f"{shown}: field 'model' must name a .py file beside the manifest, got {manifest['model']!r}")
    if not weights.is_file():
        raise UsageError(f"{shown}: field 'weights' names no file: {manifest['weights']!r}")
    if weights.stat().st_size > MAX_WEIGHTS:
        raise UsageError(f"{shown}: the weights file has {weights.stat().st_size:,} bytes, at most {MAX_WEIGHTS:,}")
    return manifest, model, weights


def submit(store: Store, path: Path, reference: bool = False) -> int:
    """Copy one submission into the store, pending validation; returns its id."""
    manifest, model, weights = read_manifest(path)
    staging = Path(tempfile.mkdtemp(prefix=".incoming.", dir=store.folder))
    try:
        shutil.copyfile(model, staging / "model.py")
        shutil.copyfile(weights, staging / "weights.npz")
        submission_id = store.add(manifest, staging, sha256_of(staging / "weights.npz"),
                                  (staging / "weights.npz").stat().st_size, now_iso(), reference)
        folder = store.folder / "submissions" / str(submission_id)
        folder.parent.mkdir(exist_ok=True)
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    with store.transaction():
        store.db.execute("UPDATE submissions SET folder = ? WHERE id = ?", (str(folder), submission_id))
    return submission_id


# ---------------------------------------------------------------------------------- validate


def load_heldout(root: Path, limit: int | None) -> tuple:
    """(images uint8 (N, 1, 28, 28), labels (N,)) of the held-out set, checksum verified."""
    import numpy as np

    path = root / HELDOUT
    if not path.is_file():
        raise TitoError(f"{HELDOUT} is missing; `git checkout -- {HELDOUT}` or rebuild it "
                        "(datasets/build_olympics_mnist.py)")
    if sha256_of(path) != HELDOUT_SHA256:
        raise TitoError(f"{HELDOUT} does not match its checksum (datasets/README.md); `git checkout -- {HELDOUT}`")
    with np.load(path, allow_pickle=False) as archive:
        images, labels = archive["test_images"], archive["test_labels"].astype(np.int64)
    return (images[:limit], labels[:limit]) if limit else (images, labels)


class Validator:
    """Runs submissions in the sandbox and records what happened to each."""

    def __init__(self, root: Path, store: Store, limits: sandbox.Limits, repeats: int, limit: int | None) -> None:
        self.root, self.store, self.limits, self.repeats = root, store, limits, repeats
        self.images, self.labels = load_heldout(root, limit)
        recorded = store.get_meta("test_images")
        if recorded is not None and int(recorded) != len(self.labels):
            raise UsageError(f"argument --limit: this leaderboard was scored on {recorded} held-out images, "
                             f"got {len(self.labels)}; use the same --limit or another --store")
        store.set_meta("test_images", str(len(self.labels)))
        self.site = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p)]

    def _config(self, ws: Path, options: dict) -> str:
        data = os.environ.get("TINYTORCH_DATA", str(Path.home() / ".cache" / "tinytorch"))
        config = {
            "secret_fd": "{secret_fd}",
            "report_fd": "{report_fd}",
            "workspace": str(ws),
            "paths": [str(self.root), *self.site],
            "writable": [str(ws)],
            # The labels are in these places and in this process's memory (/proc/PID/mem) only.
            "unreadable": [str(self.root / "datasets"), data, str(self.store.folder), f"/proc/{os.getpid()}"],
            "limits": {"cpu_seconds": self.limits.cpu_seconds, "memory_bytes": self.limits.memory_bytes,
                       "file_bytes": self.limits.file_bytes,
                       "processes": self.limits.processes + sandbox.user_process_count()},
            "options": options, "mean": MEAN, "std": STD, "batch_size": 64, "warmup": 3, "repeats": self.repeats,
        }
        return json.dumps(config).replace('"{secret_fd}"', "{secret_fd}").replace('"{report_fd}"', "{report_fd}")

    def _env(self, ws: Path) -> dict[str, str]:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(ws / ".home"), "TMPDIR": str(ws / ".tmp"), "LANG": "C.UTF-8",
               "TINYTORCH_DATA": str(ws / ".tmp" / "data")}
        # BLAS threads as the caller set them (the harness records them with the result).
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = os.environ.get(name, "1")
        return env

    def run(self, submission: Submission) -> tuple[dict | None, dict | None, str | None]:
        """(result with accuracy and size_bytes, environment, None) or (None, None, why it failed)."""
        import numpy as np

        ws = Path(tempfile.mkdtemp(prefix="tito-olympics."))
        try:
            for name in ("model.py", "weights.npz"):
                shutil.copyfile(submission.folder / name, ws / name)
            (ws / ".home").mkdir()
            (ws / ".tmp").mkdir()
            np.save(ws / "inputs.npy", self.images, allow_pickle=False)  # images only: no labels
            if not zipfile.is_zipfile(ws / "weights.npz"):
                return None, None, "weights.npz is not an .npz (zip) archive: bad or corrupt weights file"
            secret = os.urandom(harness.SECRET_BYTES)
            command = [sys.executable, "-I", "-S", str(CHILD), self._config(ws, submission.manifest["options"])]
            child = sandbox.run_child(command, cwd=ws, env=self._env(ws), identity=sandbox.Identity(None, None),
                                      limits=self.limits, secret=secret)
            result, environment, failure = self._read(child, secret)
            # The workspace is temporary: name the submission's own files, not where they were run.
            return result, environment, failure and failure.replace(str(ws) + os.sep, "")
        finally:
            shutil.rmtree(ws, ignore_errors=True)

    def _read(self, child: sandbox.ChildResult, secret: bytes) -> tuple[dict | None, dict | None, str | None]:
        import numpy as np

        output = child.output.decode("utf-8", "replace").strip()
        tail = f"; last output: {output[-300:]}" if output else ""
        try:
            frames, rest = harness.decode(secret, child.report)
        except harness.FrameError as error:
            return None, None, f"the report channel was tampered with: {error}"
        if [f["seq"] for f in frames] != list(range(len(frames))):
            return None, None, "the report frames are out of order (replayed or forged)"
        result = environment = None
        predictions = np.full(len(self.labels), -1, dtype=np.int64)
        ended = False
        for frame in frames:
            kind = frame.get("kind")
            if kind == "violation":
                what = frame.get("what", "?")
                label = " (the held-out labels are off limits)" if "reads the instructor's files" in what else ""
                return None, None, f"disqualified: tried to {what}{label}"
            if kind == "tamper":
                return None, None, f"disqualified: replaced parts of the benchmark or NumPy ({frame.get('names')})"
            if kind == "error":
                return None, None, f"failed while {frame.get('stage')}ing: {frame.get('message')}"
            if kind == "result":
                result, environment = frame["result"], frame["environment"]
            elif kind == "predictions":
                values = np.asarray(frame["values"], dtype=np.int64)
                predictions[frame["start"] : frame["start"] + len(values)] = values
            elif kind == "end":
                ended = True
        if not ended:
            return None, None, self._why_stopped(child) + tail
        if result is None or (predictions < 0).any():
            return None, None, "the child ended without reporting a measurement for every image" + tail
        result = dict(result, accuracy=float((predictions == self.labels).mean()))
        return result, environment, None

    def _why_stopped(self, child: sandbox.ChildResult) -> str:
        if child.output_exceeded:
            return f"printed more than {self.limits.output_bytes >> 20} MiB and was stopped"
        if child.report_exceeded:
            return f"sent more than {self.limits.report_bytes >> 20} MiB of reports and was stopped"
        if child.timed_out:
            return f"did not finish within the {self.limits.wall_seconds:g} s time limit"
        if child.returncode is not None and child.returncode < 0:
            return _signal_reason(child, self.limits)
        return f"exited with status {child.returncode} before reporting (sys.exit or os._exit in the submission?)"

    def validate(self, submission: Submission, baseline: dict | None) -> tuple[str, str | None]:
        """Measure one submission and record it; (status, reason). `baseline` None: it is the reference."""
        started = time.monotonic()
        result, environment, failure = self.run(submission)
        seconds = time.monotonic() - started
        if failure:
            self.store.record(submission.id, "failed", failure, now_iso(), seconds)
            return "failed", failure
        result["size_bytes"] = submission.weights_bytes
        baseline = result if baseline is None else baseline
        verdicts = [(event, *self.judge(event, result, baseline)) for event in submission.events]
        self.store.record(submission.id, "measured", None, now_iso(), seconds, result["accuracy"], result,
                          environment, verdicts)
        return "measured", None

    @staticmethod
    def judge(event_key: str, result: dict, baseline: dict) -> tuple[bool, float | None, str]:
        event = events()[event_key]
        try:
            ok, why = event.eligible(result, baseline)
            return (True, float(event.score(result, baseline)), why or "") if ok else (False, None, why)
        except NotImplementedError as error:
            raise TitoError(f"module 19's Event is not implemented yet ({error}); "
                            "finish modules/19_benchmarking") from None


def ensure_reference(root: Path, store: Store, validator: Validator) -> dict:
    """The reference's measurement in this store (submitted and validated first if it is not)."""
    reference = store.reference()
    if reference is None:
        # One reference row per store: a failed attempt (say, a module still stubbed) is retried.
        earlier = store.submissions("WHERE reference = 1")
        submission = earlier[-1] if earlier else store.get(submit(store, root / REFERENCE, reference=True))
        print(f"measuring the reference, {REFERENCE} (#{submission.id}), that every event is scored against")
        status, why = validator.validate(submission, None)
        if status != "measured":
            raise TitoError(f"the reference {REFERENCE} could not be measured: {why}")
        reference = store.get(submission.id)
    accuracy, result = store.measurement(reference.id)
    return result


# ---------------------------------------------------------------------------------- leaderboard


def table_rows(store: Store, event: str) -> list[list[str]]:
    rows = []
    rank = 0
    for entry in store.entries(event):
        rank += entry.eligible
        r = entry.result or {}
        latency = (r.get("latency_ms") or {}).get("p50")
        rows.append([
            str(rank) if entry.eligible else "-",
            f"#{entry.submission.id} {entry.submission.name}" + (" (reference)" if entry.submission.reference else ""),
            entry.submission.team,
            f"{entry.score:.4g}" if entry.score is not None else "-",
            f"{entry.accuracy:.2%}" if entry.accuracy is not None else "-",
            f"{latency:.3f}" if latency is not None else "-",
            f"{r['peak_memory_mb']:.2f}" if "peak_memory_mb" in r else "-",
            f"{entry.submission.weights_bytes:,}",
            ", ".join(entry.submission.techniques),
            entry.reason if not entry.eligible else "",
        ])
    return rows


HEADERS = ["rank", "submission", "team", "score", "accuracy", "latency p50 ms", "peak MB", "weights bytes",
           "techniques", "not ranked because"]


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def print_tables(store: Store, chosen: list[str]) -> None:
    known = events()
    for key in chosen:
        event = known[key]
        rows = table_rows(store, key)
        print(f"\n{event.title} ({key})\n  rules: {event.rules}")
        if not rows:
            print("  no submissions yet")
            continue
        rows = [[_shorten(cell, 60) for cell in row] for row in rows]  # the page shows them in full
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(HEADERS)]
        for row in [HEADERS, ["-" * w for w in widths], *rows]:
            print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def machine(store: Store) -> str:
    """Where the reference was measured (module 19's capture_environment), in one line."""
    reference = store.reference()
    env = store.environment(reference.id) if reference else {}
    if not env:
        return "no reference measured yet"
    threads = ", ".join(f"{k}={v}" for k, v in (env.get("threads") or {}).items() if v) or "BLAS threads not set"
    return (f"measured on {env.get('cpu', '?')}, {env.get('logical_cores', '?')} logical cores, {env.get('blas', '?')} "
            f"({threads}), Python {env.get('python', '?')}, NumPy {env.get('numpy', '?')}, load average "
            f"{(env.get('load_average') or ['?'])[0]}")


def write_html(store: Store, path: Path, chosen: list[str]) -> None:
    from tito.fileio import write_atomically
    from tito.olympics_html import render

    known = events()
    tables = [(known[key], table_rows(store, key)) for key in chosen]
    write_atomically(path, render(tables, HEADERS, now_iso(), machine(store)))


# ---------------------------------------------------------------------------------- commands


def _store(root: Path, given: str | None) -> Store:
    folder = Path(given) if given else root / DEFAULT_STORE
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"argument --store: expected a folder, got the file {folder}")
    return Store(folder)


def cmd_submit(root: Path, args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    if args.baselines:
        paths += sorted(p for p in (root / BASELINES).iterdir() if (p / "submission.json").is_file())
    if not paths:
        raise UsageError("argument SUBMISSION: expected one or more submission folders, or --baselines")
    store = _store(root, args.store)
    try:
        for path in paths:
            reference = path.resolve() == (root / REFERENCE).resolve()
            submission_id = submit(store, path, reference=reference)
            print(f"submitted #{submission_id} {store.get(submission_id).name} from {path} (pending; "
                  f"run `tito olympics validate`)")
    finally:
        store.close()
    return 0


def cmd_validate(root: Path, args: argparse.Namespace) -> int:
    limits = sandbox.Limits(wall_seconds=args.timeout, cpu_seconds=int(args.timeout) + 1,
                            memory_bytes=args.memory << 20)
    store = _store(root, args.store)
    try:
        validator = Validator(root, store, limits, args.repeats, args.limit)
        missing = [i for i in args.ids if store.get(i) is None]
        if missing:
            raise UsageError(f"argument ID: no submission {missing} in {store.path}")
        baseline = ensure_reference(root, store, validator)
        chosen = [store.get(i) for i in args.ids] or store.submissions("WHERE status = 'pending'")
        if not chosen:
            print("nothing pending to validate")
        failed = 0
        for submission in chosen:
            status, why = validator.validate(submission, baseline)
            failed += status == "failed"
            if status == "failed":
                print(f"FAIL #{submission.id} {submission.name}: {why}")
                continue
            accuracy, result = store.measurement(submission.id)
            verdicts = store.db.execute("SELECT event, eligible, score, reason FROM entries WHERE id = ?",
                                        (submission.id,)).fetchall()
            shown = "; ".join(f"{e} {'score ' + format(s, '.4g') if ok else 'not ranked: ' + r}"
                              for e, ok, s, r in verdicts)
            print(f"OK   #{submission.id} {submission.name}: accuracy {accuracy:.2%}, latency p50 "
                  f"{result['latency_ms']['p50']:.3f} ms; {shown}")
        print(f"{len(chosen) - failed} measured, {failed} failed (recorded); `tito olympics leaderboard` shows them")
    finally:
        store.close()
    return 0


def cmd_leaderboard(root: Path, args: argparse.Namespace) -> int:
    known = events()
    if args.event and args.event not in known:
        raise UsageError(f"argument --event: expected one of {sorted(known)}, got {args.event!r}")
    chosen = [args.event] if args.event else list(known)
    store = _store(root, args.store)
    try:
        print(f"reference {machine(store)}")
        print_tables(store, chosen)
        html_path = Path(args.html) if args.html else store.folder / "leaderboard.html"
        write_html(store, html_path, chosen)
        print(f"\nleaderboard page written to {html_path}")
    finally:
        store.close()
    return 0


def register(commands, leaf) -> None:
    from tito.repo import project_root

    parser = commands.add_parser("olympics", help="module 20: submit, validate and rank TorchPerf Olympics entries")
    actions = parser.add_subparsers(dest="olympics_command", required=True, metavar="ACTION")
    store_help = f"leaderboard folder (default {DEFAULT_STORE})"
    sub = actions.add_parser("submit", help="check a submission folder and queue it for validation")
    sub.add_argument("paths", nargs="*", metavar="SUBMISSION", help="folder holding submission.json")
    sub.add_argument("--baselines", action="store_true", help=f"also submit every entry in {BASELINES}/")
    sub.add_argument("--store", metavar="DIR", help=store_help)
    leaf(sub, lambda a: cmd_submit(project_root(), a))
    val = actions.add_parser("validate", help="measure pending submissions in a sandbox on the held-out set")
    val.add_argument("ids", nargs="*", type=_positive(int), metavar="ID", help="submissions to (re)measure "
                     "(default: every pending one)")
    val.add_argument("--timeout", type=_positive(float), default=300.0, metavar="SECONDS", help="wall time each")
    val.add_argument("--memory", type=_positive(int), default=2048, metavar="MIB", help="address space each")
    val.add_argument("--repeats", type=_positive(int), default=30, metavar="N", help="timed batch-1 runs")
    val.add_argument("--limit", type=_positive(int), metavar="N", help="score on the first N held-out images")
    val.add_argument("--store", metavar="DIR", help=store_help)
    leaf(val, lambda a: cmd_validate(project_root(), a))
    board = actions.add_parser("leaderboard", help="print the ranking of every event and write the HTML page")
    board.add_argument("--event", metavar="EVENT", help="only this event")
    board.add_argument("--html", metavar="FILE", help="where to write the page (default: STORE/leaderboard.html)")
    board.add_argument("--store", metavar="DIR", help=store_help)
    leaf(board, lambda a: cmd_leaderboard(project_root(), a))

