"""The grading harness: the code that runs inside the sandbox, before any of the learner's code.

The grader starts `python -I -S harness.py CONFIG_JSON` as the sandbox user. In order, this file
1. lowers its own resource limits (CPU time, address space, processes, file size, no core dumps);
2. reads the run's secret from an inherited pipe and closes that pipe, so nothing started later
   can read it again;
3. builds sys.path itself (-I -S ignore the environment and site-packages): the workspace
   first, then the grader's own site-packages, never the instructor's editable install;
4. installs an audit hook (PEP 578; it cannot be removed) that refuses, and reports, any write
   outside the learner's part of the workspace and any read of the instructor's files;
5. imports pytest, NumPy and hypothesis and records every function and class they define, so
   a later monkeypatch of pytest, pluggy, NumPy's assertions or this file is noticed;
6. runs pytest on the instructor's copy of the tests and reports each test's outcome as a
   frame: length, JSON, HMAC-SHA256 under the secret, with a sequence number.

The grader, not this file, decides which test ids must report (docs/classroom.md): a missing,
duplicate, out-of-order or badly signed frame scores zero. The secret lives only in this
process's memory; code running in the same process could in principle dig it out, which is
why the grader also checks the ids, the sequence, the test files' checksums and the frames'
order, and why the operating system (another user id, read-only files) is the outer wall.

This file imports only the standard library at module level, because the grader imports it
too (for `decode`) and the child runs it with site-packages disabled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
import sys

MAC_BYTES = 32
SECRET_BYTES = 32
MAX_FRAME = 64 * 1024  # one test's report, teaching message included, fits easily
MAX_MESSAGE = 2000  # characters of a failure message kept for the feedback page
HEADER = struct.Struct(">I")
# pytest exit statuses that mean the run did not get through the tests; 0, 1 and 5 are normal,
# and so is 2 when a test file could not be collected (the grader tells that case apart).
ABNORMAL = {
    3: "pytest stopped with an internal error (SystemExit or similar raised while importing the submission?)",
    4: "pytest could not start (usage error)",
}
WATCHED = ("_pytest", "pytest", "pluggy", "numpy", "hypothesis", "hmac", "hashlib", "json", "struct")


def encode(secret: bytes, seq: int, payload: dict) -> bytes:
    """One frame: 4-byte length, the JSON body (with its sequence number), its HMAC."""
    body = json.dumps({**payload, "seq": seq}, sort_keys=True, separators=(",", ":")).encode()
    if len(body) > MAX_FRAME:
        raise ValueError(f"frame of {len(body)} bytes exceeds {MAX_FRAME}")
    return HEADER.pack(len(body)) + body + hmac.new(secret, body, hashlib.sha256).digest()


class FrameError(Exception):
    """The report stream is not what the harness writes: forged, corrupted or cut."""


def decode(secret: bytes, data: bytes) -> tuple[list[dict], bytes]:
    """Frames at the start of `data` and the unread rest; FrameError on anything not genuine.

    Sequence numbers are checked by the caller, which knows how many frames came before.
    """
    frames = []
    view = memoryview(data)
    while len(view) >= HEADER.size:
        (length,) = HEADER.unpack(view[: HEADER.size])
        if length > MAX_FRAME:
            raise FrameError(f"a report frame claims {length} bytes (at most {MAX_FRAME})")
        end = HEADER.size + length + MAC_BYTES
        if len(view) < end:
            break
        body = bytes(view[HEADER.size : HEADER.size + length])
        mac = bytes(view[HEADER.size + length : end])
        if not hmac.compare_digest(mac, hmac.new(secret, body, hashlib.sha256).digest()):
            raise FrameError("a report frame is not signed with this run's secret")
        try:
            frame = json.loads(body)
        except ValueError:
            raise FrameError("a signed report frame is not JSON") from None
        if not isinstance(frame, dict) or not isinstance(frame.get("seq"), int):
            raise FrameError("a signed report frame has no sequence number")
        frames.append(frame)
        view = view[end:]
    return frames, bytes(view)


# ---------------------------------------------------------------- child side (runs in the sandbox)


class Channel:
    """Writes signed frames to the report pipe. The secret is kept only here."""

    def __init__(self, fd: int, secret: bytes) -> None:
        self._fd, self._secret, self._seq = fd, secret, 0

    def send(self, payload: dict) -> None:
        data = encode(self._secret, self._seq, payload)
        self._seq += 1
        while data:
            written = os.write(self._fd, data)
            data = data[written:]


def apply_limits(limits: dict) -> None:
    """Lower this process's limits; the learner's code inherits them and cannot raise them."""
    import resource

    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU, then SIGKILL a second later
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"],) * 2)


def _as_path(value, dir_fd=None) -> str | None:
    """The absolute, resolved path an audited call touches; None for a bare file descriptor.

    A relative path with `dir_fd` is relative to that folder (shutil.rmtree works this way),
    not to the current directory.
    """
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        path = os.fsdecode(os.fspath(value))
        if isinstance(dir_fd, int) and not os.path.isabs(path):
            try:
                path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
            except OSError:
                pass
        return os.path.realpath(path)
    return None


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
# audit event -> (position of a path argument, position of its dir_fd or None), for every
# event that changes the file system
CHANGES = {
    "os.remove": ((0, 1),),
    "os.rmdir": ((0, 1),),
    "os.rename": ((0, 2), (1, 3)),
    "os.truncate": ((0, None),),
    "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),),
    "os.link": ((0, 2), (1, 3)),
    "os.symlink": ((1, 2),),
    "os.utime": ((0, 3),),
    "os.mkdir": ((0, 2),),
    "shutil.rmtree": ((0, 1),),
}


def install_guard(writable: list[str], protected: list[str], unreadable: list[str], readable: list[str], report):
    """Refuse (PermissionError) and report changes outside `writable` or inside `protected`,
    and reads of `unreadable`.

    `readable` carves exceptions out of `unreadable` (the interpreter's site-packages may live
    inside the instructor's repository, in its .venv). `/dev/` stays writable (/dev/null).
    """
    can_write = tuple(os.path.realpath(p) for p in writable) + ("/dev",)
    fixed = tuple(os.path.realpath(p) for p in protected)
    secret_places = tuple(os.path.realpath(p) for p in unreadable)
    allowed = tuple(os.path.realpath(p) for p in readable)
    busy = []  # re-entrancy: reporting must not be judged again

    def refuse(what: str) -> None:
        if not busy:
            busy.append(1)
            try:
                report({"kind": "violation", "what": what[:500]})
            finally:
                busy.clear()
        raise PermissionError(f"the grader does not allow this: {what}")

    def may_change(path: str) -> bool:
        return _under(path, can_write) and not _under(path, fixed)

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path = _as_path(args[0])
            if path is None:
                return
            mode, flags = args[1], args[2] if len(args) > 2 else 0
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & WRITE_FLAGS)
            if writes and not may_change(path):
                refuse(f"open({path!r}, {mode or flags!r}) outside the learner's files")
            if _under(path, secret_places) and not _under(path, allowed):
                refuse(f"open({path!r}) reads the instructor's files")
        elif event in CHANGES:
            for position, fd_position in CHANGES[event]:
                if position >= len(args):
                    continue
                dir_fd = args[fd_position] if fd_position is not None and fd_position < len(args) else None
                path = _as_path(args[position], dir_fd)
                if path is not None and not may_change(path):
                    refuse(f"{event}({path!r}) outside the learner's files")
        elif event == "sqlite3.connect":
            path = _as_path(args[0])
            if path is not None and not may_change(path):
                refuse(f"sqlite3.connect({path!r}) outside the learner's files")

    sys.addaudithook(hook)


class Integrity:
    """Every function and class of the watched modules, as they were before the learner's code ran.

    `changed()` lists what has been replaced since: a module attribute or class attribute that
    is no longer the same object, or a function whose code object was swapped.
    """

    def __init__(self, extra_modules: tuple[str, ...] = ()) -> None:
        import types

        kinds = (types.FunctionType, types.BuiltinFunctionType, type, classmethod, staticmethod, property)
        names = [n for n in list(sys.modules) if n.split(".")[0] in WATCHED] + ["builtins", *extra_modules]
        self._entries = []
        for name in sorted(set(names)):
            module = sys.modules.get(name)
            if module is None:
                continue
            for attr, value in list(vars(module).items()):
                if not isinstance(value, kinds):
                    continue
                self._entries.append((vars(module), f"{name}.{attr}", attr, value, getattr(value, "__code__", None)))
                if isinstance(value, type) and value.__module__ == name:
                    for key, member in list(vars(value).items()):
                        if isinstance(member, kinds):
                            code = getattr(member, "__code__", None)
                            self._entries.append((value.__dict__, f"{name}.{attr}.{key}", key, member, code))

    def changed(self) -> list[str]:
        return [
            label
            for namespace, label, key, value, code in self._entries
            if namespace.get(key) is not value or getattr(value, "__code__", None) is not code
        ]


def _crash_message(report) -> str:
    """The line a learner needs: the assertion or exception text the test's author wrote."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        return str(longrepr[2])
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        where = f" ({os.path.basename(str(crash.path))}:{crash.lineno})" if crash.path else ""
        return f"{crash.message}{where}"
    return str(longrepr or "")[-MAX_MESSAGE:]


class Reporter:
    """pytest plugin: one signed frame per finished test, checked for tampering first.

    The record of pytest's functions is taken in `pytest_load_initial_conftests`, at the default
    priority: after pytest's own early patches (legacypath's, tryfirst) and before the conftest
    files load (trylast), so before any code of the learner's has run (a conftest may import
    the package). The last check is at session finish, before pytest undoes its own patches.
    """

    def __init__(self, channel: Channel) -> None:
        self.channel, self.integrity, self.phases, self.seen = channel, None, {}, set()

    def pytest_load_initial_conftests(self, early_config, parser, args) -> None:
        self.integrity = Integrity(extra_modules=("__main__",))
        self.channel.send({"kind": "hello", "watched": len(self.integrity._entries)})

    def check(self, where: str) -> None:
        changed = self.integrity.changed() if self.integrity else ["(the record was never taken)"]
        new = [name for name in changed if name not in self.seen]
        if new:
            self.seen.update(new)
            self.channel.send({"kind": "tamper", "where": where, "names": new[:20]})

    def pytest_sessionfinish(self, session, exitstatus) -> None:
        self.check("end")

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            message = _crash_message(report)[:MAX_MESSAGE]
            self.channel.send({"kind": "collect-error", "where": report.nodeid, "message": message})

    def pytest_collection_finish(self, session) -> None:
        self.check("collection")

    def pytest_runtest_logreport(self, report) -> None:
        self.phases.setdefault(report.nodeid, []).append(report)

    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        self.check(nodeid)
        reports = self.phases.pop(nodeid, [])
        outcome, message, seconds = "passed", "", 0.0
        for report in reports:
            seconds += float(getattr(report, "duration", 0.0))
            if report.failed and outcome != "failed":
                outcome = "failed" if report.when == "call" else "error"
                message = _crash_message(report)
            elif report.skipped and outcome == "passed":
                if hasattr(report, "wasxfail"):
                    message = f"expected failure: {report.wasxfail}"
                else:
                    outcome, message = "skipped", _crash_message(report)
        if not reports:
            outcome, message = "error", "pytest reported no phase for this test"
        frame = {"kind": "test", "id": nodeid, "outcome": outcome, "seconds": round(seconds, 4)}
        self.channel.send({**frame, "message": message[:MAX_MESSAGE]})


def _import_watched() -> None:
    """Import pytest's, pluggy's and NumPy's testing modules now, so all of them are recorded."""
    import importlib
    import pkgutil

    import _pytest
    import numpy.testing  # noqa: F401
    import pluggy
    import pytest  # noqa: F401

    for package in (_pytest, pluggy):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            try:
                importlib.import_module(info.name)
            except Exception:  # an optional part pytest itself would not load either
                pass
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        pass


def main(argv: list[str]) -> None:
    config = json.loads(argv[1])
    apply_limits(config["limits"])
    secret = b""
    while len(secret) < SECRET_BYTES:
        chunk = os.read(config["secret_fd"], SECRET_BYTES - len(secret))
        if not chunk:
            break
        secret += chunk
    os.close(config["secret_fd"])
    channel = Channel(config["report_fd"], secret)
    del secret
    sys.dont_write_bytecode = True  # the tests are read-only; no __pycache__ beside them
    sys.path[:0] = [config["workspace"]]
    sys.path.extend(config["site"])
    os.chdir(config["workspace"])
    install_guard(config["writable"], config["protected"], config["unreadable"], config["site"], channel.send)
    _import_watched()
    import pytest

    reporter = Reporter(channel)
    status = "aborted"
    try:
        status = int(pytest.main(config["pytest_args"], plugins=[reporter]))
        status = ABNORMAL.get(status, status)
    except BaseException as error:  # sys.exit at import, KeyboardInterrupt raised by the learner
        status = f"pytest stopped by {type(error).__name__}: {error}"[:MAX_MESSAGE]
    channel.send({"kind": "end", "status": status})
    sys.stdout.flush()
    os._exit(0)  # no atexit handlers: the learner may have registered some


if __name__ == "__main__":
    main(sys.argv)
