"""Running learner code in child processes: streamed output, a time limit, the repo's package.

Learner code runs in its own process so that a crash, a hang or a stray `sys.exit` costs one
check, never tito itself (DESIGN.md §9). Every verdict tito prints comes from the child's exit
status, which `Outcome` carries unchanged.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Outcome:
    returncode: int  # the child's exit status; -N when a signal ended it
    output: str  # everything it printed on the captured stream(s)
    timed_out: bool
    seconds: float

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def repo_env(root: Path) -> dict[str, str]:
    """The environment for a child process: the repository's own tinytorch comes first.

    `python modules/01_tensor/tensor.py` puts the script's folder, not the repository, on
    sys.path; without PYTHONPATH it could import some other installed tinytorch, or none.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"  # so output streams line by line, as it happens
    return env


def run_streaming(
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout: float | None = None,
    merge_stderr: bool = True,
) -> Outcome:
    """Run `command`, echoing its stdout (and stderr when merged) live while capturing it.

    On timeout the child's whole process group is killed, so helper processes it started do not
    linger. Ctrl-C kills the child too and is re-raised.
    """
    started = time.monotonic()
    posix = os.name == "posix"
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else None,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
        start_new_session=posix,
    )
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        _kill(process, posix)

    timer = threading.Timer(timeout, kill) if timeout else None
    if timer:
        timer.daemon = True
        timer.start()
    captured = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            captured.append(line)
        process.wait()
    except KeyboardInterrupt:
        _kill(process, posix)
        raise
    finally:
        if timer:
            timer.cancel()
    return Outcome(
        process.returncode, "".join(captured), expired.is_set(), time.monotonic() - started
    )


def _kill(process: subprocess.Popen, posix: bool) -> None:
    if process.poll() is not None:
        return
    try:
        if posix:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass


def exit_status(returncode: int) -> int:
    """A child's status as our own exit code: signals map to 128+N, like a shell does."""
    return returncode if returncode >= 0 else 128 - returncode
