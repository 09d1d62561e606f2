"""Grading a class: the instructor's reference run, one sandboxed run per student, the verdicts.

The reference run grades the instructor's own repository with the same machinery; the test ids
it reports are the ones every student's run must report, each exactly once (the grader decides
the list, never the child). A student's verdict:

- complete    the harness reported every test and ended normally; points from the rubric;
- incomplete  the child stopped early (time, CPU, memory, output, a signal, an exit at import):
              tests it reported keep their outcome, the others score zero as `missing`;
- rejected    the submission tampered with the grading: a forged, duplicate, unknown or
              unsigned report, a patched pytest/NumPy, an attempt to write outside its own files
              or to read the instructor's, changed test files, processes left running: zero;
- invalid     the submission could not be staged (no module file, bad archive): zero.

Whatever happens to one student is recorded with its reason and never touches another's run.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tito.errors import TitoError
from tito.export import ModuleInfo
from tito.grading import harness, sandbox, workspace
from tito.grading.gradebook import ResultRow, SubmissionRow
from tito.grading.rubric import Rubric

INTERRUPTED = 2  # pytest's exit status both for Ctrl-C and for "errors during collection"


@dataclass
class Run:
    """What the child reported, read back from its frames and its exit."""

    tests: dict[str, dict]  # test id (inside tests/NN_name) -> its frame
    collect_errors: list[dict]
    problems: list[str]  # reasons to reject
    stopped: str | None  # why the run ended early, None if the harness ended normally
    output: str


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def _signal_reason(result: sandbox.ChildResult, limits: sandbox.Limits) -> str:
    name = sandbox.signal_name(result.returncode)
    if name == "SIGXCPU" or (name == "SIGKILL" and not result.timed_out):
        return f"killed by {name}: the CPU-time limit ({limits.cpu_seconds} s) or another limit was reached"
    if name == "SIGXFSZ":
        return f"killed by SIGXFSZ: wrote a file larger than {limits.file_bytes >> 20} MiB"
    if name in ("SIGSEGV", "SIGABRT", "SIGBUS"):
        return f"crashed with {name} (a segfault or abort in the submission's code)"
    return f"killed by {name}"


class Grader:
    def __init__(
        self,
        root: Path,
        module: ModuleInfo,
        rubric: Rubric,
        hidden: Path | None,
        limits: sandbox.Limits,
        python: str | None,
        jobs: int,
        gradebook_path: Path,
        workdir: Path | None = None,
    ) -> None:
        self.root, self.module, self.rubric, self.hidden, self.limits = root, module, rubric, hidden, limits
        self.identities = sandbox.sandbox_identities(jobs)
        try:
            self.python = sandbox.choose_python(self.identities[0], python)
        except BaseException:
            sandbox.release_identities(self.identities)
            raise
        self.jobs = jobs
        self.gradebook_path = gradebook_path.resolve()
        self.run_dir = Path(tempfile.mkdtemp(prefix="tito-grade.", dir=workdir))
        os.chmod(self.run_dir, 0o711)  # the child may pass through to its workspace, not list others
        self.harness_path = self.run_dir / "harness.py"
        shutil.copyfile(Path(harness.__file__), self.harness_path)
        os.chmod(self.harness_path, 0o644)
        self.site = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p)]
        self.expected: list[str] = []
        self.points: dict[str, float] = {}

    def close(self) -> None:
        workspace.remove(self.run_dir)
        sandbox.release_identities(self.identities)

    # ------------------------------------------------------------------ one run

    def _command(self, ws: Path) -> list[str]:
        processes = self.limits.processes
        if not self.identities[0].isolated:
            processes += sandbox.user_process_count()  # RLIMIT_NPROC counts all of this user's processes
        config = {
            "secret_fd": "{secret_fd}",
            "report_fd": "{report_fd}",
            "workspace": str(ws),
            "site": self.site,
            "writable": [str(ws)],
            "protected": [str(ws / name) for name in workspace.INSTRUCTOR_PARTS],
            "unreadable": [str(self.root), str(self.gradebook_path.parent)]
            + ([str(self.hidden)] if self.hidden else []),
            "limits": {
                "cpu_seconds": self.limits.cpu_seconds,
                "memory_bytes": self.limits.memory_bytes,
                "file_bytes": self.limits.file_bytes,
                "processes": processes,
            },
            "pytest_args": [
                str(ws / "tests" / self.module.tag),
                "-c",
                str(ws / workspace.PYTEST_INI),
                "-W",
                "ignore::pytest.PytestAssertRewriteWarning",
                "--rootdir",
                str(ws),
                "-p",
                "no:cacheprovider",
                "-s",
                "-q",
                "--tb=short",
                "--color=no",
            ],
        }
        text = json.dumps(config).replace('"{secret_fd}"', "{secret_fd}").replace('"{report_fd}"', "{report_fd}")
        return [self.python, "-I", "-S", str(self.harness_path), text]

    def _env(self, ws: Path) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": str(ws / ".home"),
            "TMPDIR": str(ws / ".tmp"),
            "USER": "student",
            "LOGNAME": "student",
            "LANG": "C.UTF-8",
            "CI": "1",  # the suite's hypothesis profile derandomizes: the same code, the same grade
            "HYPOTHESIS_STORAGE_DIRECTORY": str(ws / ".tmp" / "hypothesis"),
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": str(ws / ".tmp" / "matplotlib"),
            "TINYTORCH_DATA": str(ws / ".tmp" / "data"),
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }

    def _run(self, repo: Path, identity: sandbox.Identity) -> tuple[Run, workspace.Workspace | None, str | None]:
        """Stage `repo`, run the harness on it, read the report. (run, workspace, invalid reason)."""
        ws_path = workspace.new_workspace(self.run_dir, "ws")
        try:
            owner = (identity.uid, identity.gid) if identity.isolated else None
            try:
                ws = workspace.stage(repo, self.root, self.module, self.hidden, ws_path, owner)
            except workspace.SubmissionError as error:
                return Run({}, [], [], None, ""), None, str(error)
            secret = os.urandom(harness.SECRET_BYTES)
            result = sandbox.run_child(
                self._command(ws_path),
                cwd=ws_path,
                env=self._env(ws_path),
                identity=identity,
                limits=self.limits,
                secret=secret,
            )
            run = self._read(result, secret)
            changed = sorted(
                name
                for name, digest in workspace.protected_checksums(ws_path).items()
                if ws.checksums.get(name) != digest
            )
            missing = sorted(set(ws.checksums) - set(workspace.protected_checksums(ws_path)))
            if changed or missing:
                run.problems.append(
                    f"the instructor's files were changed or deleted: {', '.join((changed + missing)[:5])}"
                )
            return run, ws, None
        finally:
            workspace.remove(ws_path)

    def _read(self, result: sandbox.ChildResult, secret: bytes) -> Run:
        output = result.output.decode("utf-8", "replace")
        run = Run({}, [], [], None, output[-4000:])
        try:
            frames, rest = harness.decode(secret, result.report)
        except harness.FrameError as error:
            frames, rest = [], b""
            run.problems.append(f"the report channel was tampered with: {error}")
        if rest and not result.report_exceeded:
            run.problems.append("the report channel ended inside a frame (written to by the submission?)")
        if result.report_exceeded:
            run.problems.append(f"the report channel carried more than {self.limits.report_bytes >> 20} MiB")
        ended = False
        prefix = f"tests/{self.module.tag}/"
        for position, frame in enumerate(frames):
            if frame["seq"] != position:
                run.problems.append(
                    f"report frame {position} carries sequence number {frame['seq']} (replayed or forged)"
                )
                break
            if ended:
                run.problems.append("a report arrived after the harness's last one")
                break
            kind = frame.get("kind")
            if kind == "test":
                test_id = str(frame.get("id", ""))
                test_id = test_id[len(prefix) :] if test_id.startswith(prefix) else test_id
                if test_id in run.tests:
                    run.problems.append(f"two reports for {test_id}")
                run.tests[test_id] = frame
            elif kind == "collect-error":
                run.collect_errors.append(frame)
            elif kind == "violation":
                run.problems.append(f"tried to {frame.get('what', '?')}")
            elif kind == "tamper":
                names = ", ".join(frame.get("names", [])[:5])
                run.problems.append(f"replaced parts of pytest, pluggy, NumPy or the harness ({names})")
            elif kind == "end":
                ended = True
                status = frame.get("status")
                if not isinstance(status, int):
                    run.stopped = str(status)
                elif status == INTERRUPTED and not run.collect_errors:
                    run.stopped = "pytest was interrupted (KeyboardInterrupt raised by the submission?)"
            elif kind != "hello" or position != 0:
                run.problems.append(f"an unexpected report of kind {kind!r}")
        if frames and frames[0].get("kind") != "hello":
            run.problems.append("the report did not start with the harness's greeting")
        if result.leftovers and ended:
            run.problems.append(f"left {result.leftovers} process(es) running after the tests ended (a fork bomb?)")
        if not ended:
            run.stopped = self._why_stopped(result)
        return run

    def _why_stopped(self, result: sandbox.ChildResult) -> str:
        if result.output_exceeded:
            return f"printed more than {self.limits.output_bytes >> 20} MiB of output and was stopped"
        if result.timed_out:
            return f"did not finish within the {self.limits.wall_seconds:g} s time limit (an endless loop?)"
        if result.returncode is None:
            return "was stopped by the grader"
        if result.returncode < 0:
            return _signal_reason(result, self.limits)
        code = result.returncode
        return f"exited with status {code} before the tests finished (os._exit or sys.exit in the submission?)"

    # ------------------------------------------------------------------ reference and students

    def reference(self) -> list[str]:
        """Run the instructor's own repository; its test ids become the ones every student owes."""
        run, _ws, invalid = self._run(self.root, self.identities[0])
        if invalid or run.problems or run.stopped:
            detail = invalid or "; ".join(run.problems) or run.stopped
            raise TitoError(
                f"the instructor's own tests/{self.module.tag} could not be run in the sandbox: {detail}\n"
                f"last output:\n{run.output[-1500:]}"
            )
        if not run.tests:
            raise TitoError(f"tests/{self.module.tag} holds no tests; there is nothing to grade")
        self.expected = list(run.tests)
        self.points = self.rubric.points(self.expected)
        warnings = []
        for test_id, frame in run.tests.items():
            if frame.get("outcome") != "passed":
                # Nobody can owe what the instructor's own solution does not do (a skip for
                # missing data, a known failure): such a test is shown but worth nothing.
                self.points[test_id] = 0.0
                warnings.append(f"{test_id}: {frame.get('outcome')} - {frame.get('message', '')[:200]}")
        return warnings

    def fingerprint(self) -> str:
        data = json.dumps([self.expected, self.points], sort_keys=True).encode()
        for folder in [
            self.root / "tests" / self.module.tag,
            workspace.hidden_folder(self.hidden, self.module, self.root),
        ]:
            if folder is not None:
                for name, digest in sorted(workspace.checksum_tree(folder).items()):
                    if "__pycache__" not in name:
                        data += f"{name}:{digest}\n".encode()
        return hashlib.sha256(data).hexdigest()

    @property
    def max_points(self) -> float:
        return sum(self.points.values())

    def grade(self, submission: workspace.Submission, identity: sandbox.Identity) -> SubmissionRow:
        started = time.monotonic()
        unpacked = Path(tempfile.mkdtemp(prefix="unpacked.", dir=self.run_dir))
        os.chmod(unpacked, 0o700)
        notes: list[str] = []
        try:
            try:
                repo = workspace.unpack(submission, unpacked)
            except workspace.SubmissionError as error:
                run, invalid = Run({}, [], [], None, ""), str(error)
            else:
                run, ws, invalid = self._run(repo, identity)
                notes = ws.notes if ws else []
        finally:
            workspace.remove(unpacked)
        return self._verdict(submission.student, run, invalid, notes, time.monotonic() - started)

    def _verdict(self, student: str, run: Run, invalid: str | None, notes: list[str], seconds: float) -> SubmissionRow:
        unknown = sorted(set(run.tests) - set(self.expected))
        if unknown:
            run.problems.append(f"reported tests that do not exist: {', '.join(unknown[:3])}")
        if invalid:
            status, reason = "invalid", invalid
        elif run.problems:
            status, reason = "rejected", "; ".join(dict.fromkeys(run.problems))
        elif run.stopped or len(run.tests) < len(self.expected):
            status = "incomplete"
            missing = len(self.expected) - len(run.tests)
            first_error = run.collect_errors[0].get("message", "") if run.collect_errors else ""
            reason = run.stopped or (
                f"{missing} test(s) could not be collected: {first_error}"
                if first_error
                else f"{missing} test(s) did not run (see their messages)"
            )
        else:
            status, reason = "complete", None
        rows = []
        for test_id in self.expected:
            frame = run.tests.get(test_id)
            maximum = self.points[test_id]
            if frame is None:
                rows.append(ResultRow(test_id, "missing", 0.0, maximum, self._missing_message(test_id, run, invalid)))
                continue
            outcome = str(frame.get("outcome"))
            earned = maximum if outcome == "passed" and status in ("complete", "incomplete") else 0.0
            rows.append(ResultRow(test_id, outcome, earned, maximum, str(frame.get("message", ""))))
        points = sum(row.points for row in rows)
        return SubmissionRow(
            student,
            self.module.tag,
            status,
            reason,
            points,
            self.max_points,
            round(seconds, 2),
            "\n".join(notes),
            now_iso(),
            rows,
        )

    def _missing_message(self, test_id: str, run: Run, invalid: str | None) -> str:
        if invalid:
            return f"not graded: {invalid}"
        test_file = test_id.split("::", 1)[0]
        for error in run.collect_errors:
            if str(error.get("where", "")).endswith(test_file) or not error.get("where", "").endswith(".py"):
                return f"could not be collected: {error.get('message', '')}"
        if run.stopped:
            return f"no result: the run {run.stopped}"
        return "no result was reported for this test"

    # ------------------------------------------------------------------ the class

    def grade_all(self, submissions: list[workspace.Submission], on_result) -> None:
        """Grade in `jobs` parallel sandboxes; `on_result(row)` runs in this thread, in finishing order."""
        slots: queue.Queue = queue.Queue()
        for identity in self.identities:
            slots.put(identity)

        def work(submission: workspace.Submission) -> SubmissionRow:
            identity = slots.get()
            try:
                return self.grade(submission, identity)
            finally:
                slots.put(identity)

        sandbox.STOP.clear()
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            futures = [pool.submit(work, s) for s in submissions]
            try:
                for future in as_completed(futures):
                    on_result(future.result())
            except BaseException:
                # Interrupted: kill the running children now; their rows are never saved, so
                # `--resume` grades those students again.
                sandbox.STOP.set()
                for future in futures:
                    future.cancel()
                raise
