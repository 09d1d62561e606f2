"""Starting the harness as an unprivileged child, reading it within budgets, and leaving nothing behind.

Containment, from the outside in (docs/classroom.md):
- As root, each grading slot runs its child as its own unused user id (61000 and up, group
  nogroup). The kernel then enforces RLIMIT_NPROC for that id (it does not for root), file
  permissions keep the child out of the gradebook and the instructor's tests, and every process
  of that id can be found and killed afterwards, even one that left the session.
- Without root, the child runs as the grader's user; its process limit counts that user's
  processes, and the harness's audit hook and the tests' checksums stand in for permissions.
- Always: a new session (killed as a group), a wall-time limit, stdout and stderr merged and
  read with a byte budget (the child is killed when it prints more), the report pipe read with
  its own budget, and the limits the harness sets on itself (tito/grading/harness.py).
"""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import selectors
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tito.errors import TitoError

FIRST_SANDBOX_UID = 61000
SANDBOX_GROUP = "nogroup"
PROBE = "import sys, sysconfig; print(sys.version_info[:2], sysconfig.get_config_var('SOABI'))"


# Set when the grader is interrupted (Ctrl-C, SIGTERM): every running child is killed at once
# instead of being waited for up to its wall-time limit; its result is never recorded.
STOP = threading.Event()


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 300.0
    cpu_seconds: int = 300
    memory_bytes: int = 2 << 30
    file_bytes: int = 64 << 20
    processes: int = 64  # counts threads too
    output_bytes: int = 4 << 20  # stdout + stderr
    report_bytes: int = 16 << 20


@dataclass(frozen=True)
class Identity:
    """Who the child runs as: (uid, gid) when the grader is root, None to stay this user."""

    uid: int | None
    gid: int | None

    @property
    def isolated(self) -> bool:
        return self.uid is not None


def privileged() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def sandbox_identities(count: int) -> list[Identity]:
    """`count` distinct identities: unused user ids as root, else this user `count` times."""
    if not privileged():
        return [Identity(None, None)] * count
    try:
        gid = grp.getgrnam(SANDBOX_GROUP).gr_gid
    except KeyError:
        gid = 65534
    busy = _uids_with_processes()
    found: list[Identity] = []
    uid = FIRST_SANDBOX_UID
    while len(found) < count:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if uid not in busy and _claim(uid):
                found.append(Identity(uid, gid))
        uid += 1
        if uid > FIRST_SANDBOX_UID + 10000:
            raise TitoError("no unused user id in 61000-71000 for the grading sandbox")
    return found


_claims: dict[int, int] = {}  # uid -> open lock file; the kernel drops the lock when we exit


def _claim(uid: int) -> bool:
    """Reserve `uid` for this grader: two concurrent runs must never share (and kill) one id."""
    folder = Path(tempfile.gettempdir()) / "tito-grade-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    descriptor = os.open(folder / f"{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        return False
    _claims[uid] = descriptor
    return True


def release_identities(identities: list[Identity]) -> None:
    for identity in identities:
        descriptor = _claims.pop(identity.uid, None) if identity.isolated else None
        if descriptor is not None:
            os.close(descriptor)


def _proc_status(pid: str) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _uids_with_processes() -> set[int]:
    uids = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            status = _proc_status(pid)
            if "Uid" in status:
                uids.add(int(status["Uid"].split()[0]))
    return uids


def processes_of(uid: int) -> list[int]:
    """Live (not zombie) processes whose real user id is `uid`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        status = _proc_status(pid)
        if "Uid" in status and int(status["Uid"].split()[0]) == uid and not status.get("State", "").startswith("Z"):
            found.append(int(pid))
    return found


def processes_in_session(sid: int) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(pid))
    return found


def user_process_count() -> int:
    return len(processes_of(os.getuid()))


def kill_everything(identity: Identity, session: int, rounds: int = 200) -> int:
    """SIGKILL the child's session and, when isolated, every process of its user id.

    Repeats until none is left (a fork bomb forks between two kills; its process limit makes
    that finite). Returns how many processes were still alive at the first look.
    """
    first = None
    for _ in range(rounds):
        if not identity.isolated:
            # Only without a user id of its own: once the group is empty its number may be reused
            # by another slot's new session, which a blind killpg would hit.
            try:
                os.killpg(session, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        alive = processes_of(identity.uid) if identity.isolated else processes_in_session(session)
        if first is None:
            first = len(alive)
        if not alive:
            return first
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)
    raise TitoError(f"could not stop the processes of a graded submission: {alive[:10]}")


def choose_python(identity: Identity, wanted: str | None) -> str:
    """An interpreter the sandbox user can run, of this Python's version and ABI.

    The child imports the grader's site-packages (NumPy, pytest), so major, minor and SOABI
    must match. `wanted` (--python) is tried alone; otherwise this interpreter, then the same
    version from PATH and the usual system places (a venv under a private home folder, such
    as /root, is not reachable by another user).
    """
    expected = f"{sys.version_info[:2]} {sysconfig.get_config_var('SOABI')}"
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    if wanted:
        candidates = [wanted]
    else:
        candidates = [sys.executable]
        for folder in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/usr/local/bin"]:
            candidates.append(os.path.join(folder, version))
    tried = []
    for candidate in dict.fromkeys(candidates):
        if not os.path.isfile(candidate):
            continue
        try:
            probe = subprocess.run(
                [candidate, "-I", "-S", "-c", PROBE],
                capture_output=True,
                text=True,
                timeout=30,
                cwd="/",
                **_identity_kwargs(identity),
            )
        except (OSError, subprocess.SubprocessError) as error:
            tried.append(f"{candidate} ({error})")
            continue
        if probe.returncode == 0 and probe.stdout.strip() == expected:
            return candidate
        tried.append(f"{candidate} ({probe.stdout.strip() or probe.stderr.strip()[-200:]})")
    who = f"user id {identity.uid}" if identity.isolated else "this user"
    raise TitoError(
        f"no Python {version} that {who} can run was found (tried: {'; '.join(tried) or 'nothing'}); "
        f"pass --python PATH to a {version} interpreter whose folders are world-readable"
    )


def _identity_kwargs(identity: Identity) -> dict:
    if not identity.isolated:
        return {}
    return {"user": identity.uid, "group": identity.gid, "extra_groups": []}


@dataclass
class ChildResult:
    returncode: int | None  # None if it had to be killed before it exited
    output: bytes  # the first `output_bytes` of stdout+stderr
    output_exceeded: bool
    report: bytes
    report_exceeded: bool
    timed_out: bool
    leftovers: int  # processes of the child still alive after the harness ended
    seconds: float


def run_child(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    identity: Identity,
    limits: Limits,
    secret: bytes,
) -> ChildResult:
    """Run the harness; it gets the secret on one pipe and reports on another (fds in argv)."""
    secret_read, secret_write = os.pipe()
    report_read, report_write = os.pipe()
    try:
        os.write(secret_write, secret)  # 32 bytes: far below the pipe's buffer
    finally:
        os.close(secret_write)
    command = [
        part.replace("{secret_fd}", str(secret_read)).replace("{report_fd}", str(report_write)) for part in command
    ]
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(secret_read, report_write),
            start_new_session=True,
            **_identity_kwargs(identity),
        )
    finally:
        os.close(secret_read)
        os.close(report_write)
    try:
        result = _read_until_done(process, report_read, limits, started)
    finally:
        os.close(report_read)
        process.stdout.close()
        # The harness has been reaped: whatever of its user or session is alive was left behind.
        leftovers = kill_everything(identity, process.pid)
        if process.poll() is None:
            process.wait()
    result.leftovers = leftovers
    return result


def _read_until_done(process: subprocess.Popen, report_fd: int, limits: Limits, started: float) -> ChildResult:
    output, report = bytearray(), bytearray()
    output_exceeded = report_exceeded = timed_out = False
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ, "output")
    selector.register(report_fd, selectors.EVENT_READ, "report")
    deadline = started + limits.wall_seconds
    exited_at = None  # when the harness exited; grandchildren may still hold the pipes
    while selector.get_map():
        now = time.monotonic()
        if STOP.is_set():
            break
        if now > deadline:
            timed_out = process.poll() is None
            break
        if exited_at is None and process.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > 1.0:
            break  # the harness is gone; a grandchild holding the pipes open does not count
        for key, _ in selector.select(timeout=0.1):
            stream = key.fileobj if key.data == "output" else report_fd
            chunk = os.read(stream if isinstance(stream, int) else stream.fileno(), 65536)
            if not chunk:
                selector.unregister(key.fileobj)
                continue
            if key.data == "output":
                room = limits.output_bytes - len(output)
                output += chunk[: max(room, 0)]
                output_exceeded = output_exceeded or len(chunk) > room
            else:
                room = limits.report_bytes - len(report)
                report += chunk[: max(room, 0)]
                report_exceeded = report_exceeded or len(chunk) > room
        if output_exceeded or report_exceeded:
            break
    selector.close()
    if not (timed_out or output_exceeded or report_exceeded):
        _wait(process, 2.0)  # both pipes closed: the harness is finishing
    killed = process.poll() is None
    if killed:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _wait(process, 5.0)
    return ChildResult(
        None if killed else process.returncode,
        bytes(output),
        output_exceeded,
        bytes(report),
        report_exceeded,
        timed_out,
        0,
        time.monotonic() - started,
    )


def _wait(process: subprocess.Popen, seconds: float) -> None:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def signal_name(returncode: int | None) -> str | None:
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"
