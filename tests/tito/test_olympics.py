"""`tito olympics`: the shipped baselines end to end, and every hostile or broken submission.

The end-to-end run uses the real repository's baselines and held-out set (offline, shipped), on
the first 300 images with 5 timed repeats so it stays fast; the hostile submissions run in one
store beside an honest one, and each must be a recorded failure that leaves the others ranked.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest

from tito import olympics
from tito.errors import UsageError
from tito.main import main

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the sandbox needs POSIX resource limits")

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ROOT / "olympics" / "baselines"
FAST = ["--limit", "300", "--repeats", "5"]


def tito(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def rows(store: Path, query: str) -> list:
    with sqlite3.connect(store / "olympics.sqlite") as db:
        return db.execute(query).fetchall()


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    """submit --baselines -> validate -> leaderboard on the shipped entries, once for the module."""
    store = tmp_path_factory.mktemp("olympics") / "store"
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        outputs = []
        for args in (["submit", "--baselines"], ["validate", *FAST], ["leaderboard"]):
            import io
            from contextlib import redirect_stdout

            buffer = io.StringIO()
            with redirect_stdout(buffer):
                code = main(["olympics", *args, "--store", str(store)])
            outputs.append((code, buffer.getvalue()))
    finally:
        os.chdir(cwd)
    return store, outputs


def test_every_shipped_baseline_is_measured_and_every_event_has_an_optimized_entry(baseline_run):
    store, outputs = baseline_run
    assert [code for code, _ in outputs] == [0, 0, 0], outputs
    statuses = rows(store, "SELECT name, status, reason FROM submissions")
    shipped = sorted(p.name for p in BASELINES.iterdir() if (p / "submission.json").is_file())
    assert sorted(name for name, _, _ in statuses) == shipped
    assert all(status == "measured" for _, status, _ in statuses), statuses
    ranked = rows(store, "SELECT s.name, e.event, e.score FROM entries e JOIN submissions s ON s.id = e.id"
                         " WHERE e.eligible = 1")
    for event in olympics.events():
        names = {name for name, entered, _ in ranked if entered == event}
        assert "lenet5" in names, f"the reference must be ranked in {event}: {ranked}"
        assert names - {"lenet5"}, f"{event} needs at least one optimized baseline that meets its floor: {ranked}"
    reference = dict(((n, e), s) for n, e, s in ranked)
    assert reference[("lenet5", "latency_sprint")] == pytest.approx(1.0), "the reference scores 1x against itself"


def test_accuracy_is_scored_by_the_parent_from_the_held_out_labels(baseline_run):
    import numpy as np

    store, _ = baseline_run
    (accuracy,) = rows(store, "SELECT m.accuracy FROM measurements m JOIN submissions s ON s.id = m.id"
                              " WHERE s.name = 'lenet5'")[0]
    images, labels = olympics.load_heldout(ROOT, 300)
    # The same model, run here with the same inputs the child got, must give the same accuracy.
    import importlib.util

    spec = importlib.util.spec_from_file_location("lenet5_def", BASELINES / "lenet5.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load_model(str(BASELINES / "lenet5" / "weights.npz"))
    x = (images.astype(np.float32) / 255 - np.float32(olympics.MEAN)) / np.float32(olympics.STD)
    from tinytorch.core.autograd import no_grad
    from tinytorch.core.tensor import Tensor

    with no_grad():
        predictions = model(Tensor(x)).data.argmax(axis=1)
    assert accuracy == pytest.approx(float((predictions == labels).mean())), "accuracy must be the parent's count"
    assert accuracy > 0.95, f"the shipped LeNet-5 should read held-out digits, got {accuracy:.2%}"


def test_leaderboard_prints_every_event_and_writes_an_escaped_page(baseline_run):
    store, outputs = baseline_run
    text = outputs[2][1]
    for event in olympics.events().values():
        assert event.title in text and event.rules[:40] in text
    page = (store / "leaderboard.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "lenet5_slim_int8" in page and "<script" not in page


def write_submission(folder: Path, model_code: str, weights_data: bytes | None = None, **manifest) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.py").write_text(textwrap.dedent(model_code))
    if weights_data is None:
        shutil.copyfile(BASELINES / "lenet5" / "weights.npz", folder / "weights.npz")
    else:
        (folder / "weights.npz").write_bytes(weights_data)
    fields = {"name": folder.name, "team": "tests", "events": ["latency_sprint"], "techniques": ["none"],
              "model": "model.py", "weights": "weights.npz", "options": {}}
    fields.update(manifest)
    (folder / "submission.json").write_text(json.dumps(fields))
    return folder


LENET = (BASELINES / "lenet5.py").read_text()
HOSTILE = {
    "not_npz": (LENET, b"these bytes are not a zip archive", "not an .npz"),
    "crashes": ("def load_model(path):\n    raise RuntimeError('boom in my model')\n", None, "boom in my model"),
    "endless": ("def load_model(path):\n    while True:\n        pass\n", None, "time limit"),
    "memory": ("import numpy as np\n\ndef load_model(path):\n    return np.ones(1 << 31)\n", None,
               "memory limit"),
    "reads_labels": (LENET + "\nimport glob\nfor f in glob.glob('" + str(ROOT / "datasets") + "/*.npz'):\n"
                     "    open(f, 'rb').read()\n", None, "held-out labels are off limits"),
    "reads_tito_memory": (LENET + "\nimport os\nopen(f'/proc/{os.getppid()}/mem', 'rb')\n", None,
                          "held-out labels are off limits"),
    "patches_clock": (LENET + "\nimport time\ntime.perf_counter_ns = lambda: 0\n", None, "replaced parts"),
    "exits": ("import os\n\ndef load_model(path):\n    os._exit(3)\n", None, "exited with status 3"),
    "no_module": ("def load_model(path):\n    return 42\n", None, "must return a tinytorch Module"),
}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """Every hostile entry beside an honest one in one store; the endless one alone, with a short limit."""
    base = tmp_path_factory.mktemp("hostile")
    store = ["--store", str(base / "store")]
    folders = {name: write_submission(base / name, code, data) for name, (code, data, _) in HOSTILE.items()}
    others = [str(folder) for name, folder in folders.items() if name != "endless"]
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        codes = [main(["olympics", "submit", *others, str(BASELINES / "lenet5_slim"), *store]),
                 main(["olympics", "validate", *FAST, "--timeout", "60", "--memory", "1536", *store]),
                 main(["olympics", "submit", str(folders["endless"]), *store]),
                 main(["olympics", "validate", *FAST, "--timeout", "3", *store]),
                 main(["olympics", "leaderboard", *store])]
    finally:
        os.chdir(cwd)
    return base / "store", codes


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_broken_or_hostile_submission_is_a_recorded_failure(hostile_run, name):
    store, codes = hostile_run
    assert codes == [0] * 5, f"one bad submission must never fail the run or the leaderboard: {codes}"
    ((status, reason),) = rows(store, f"SELECT status, reason FROM submissions WHERE name = '{name}'")
    assert status == "failed", f"{name}: expected a recorded failure, got {status} ({reason})"
    assert HOSTILE[name][2] in reason, f"{name}: the reason should say {HOSTILE[name][2]!r}, got {reason!r}"


def test_honest_entries_are_ranked_beside_the_hostile_ones(hostile_run):
    store, _ = hostile_run
    ranked = rows(store, "SELECT s.name FROM entries e JOIN submissions s ON s.id = e.id WHERE e.eligible = 1"
                         " AND e.event = 'latency_sprint'")
    assert {"lenet5", "lenet5_slim"} <= {name for (name,) in ranked}, ranked
    assert "crashes" in (store / "leaderboard.html").read_text(), "failures are listed on the page, unranked"


@pytest.mark.parametrize("change, message", [
    ({"events": ["sprint"]}, "unknown event 'sprint'"),
    ({"events": []}, "one or more distinct events"),
    ({"techniques": []}, "techniques"),
    ({"name": "<b>x</b>"}, "field 'name'"),
    ({"model": "weights.npz"}, "field 'model' must name a .py file"),
    ({"weights": "missing.npz"}, "names no file"),
    ({"options": [1]}, "field 'options' must be a dict"),
    ({"extra": 1}, "unknown field(s) ['extra']"),
])
def test_a_bad_manifest_is_refused_at_submit_naming_the_field(tmp_path, change, message):
    folder = write_submission(tmp_path / "entry", LENET, **change)
    with pytest.raises(UsageError, match=None) as caught:
        olympics.read_manifest(folder)
    assert message in str(caught.value), caught.value


def test_submit_without_a_submission_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, text = tito(capsys, "olympics", "submit", str(tmp_path / "nothing"), "--store", str(tmp_path / "s"))
    assert code == 2 and "submission.json" in text
    code, text = tito(capsys, "olympics", "leaderboard", "--event", "marathon", "--store", str(tmp_path / "s"))
    assert code == 2 and "latency_sprint" in text


def test_page_escapes_what_a_submitter_wrote(tmp_path, monkeypatch, capsys):
    from tito.olympics_html import render

    event = olympics.events()["latency_sprint"]
    page = render([(event, [["1", "#1 x", "t", "1", "99%", "1", "1", "1", "<script>alert(1)</script>", ""]])],
                  olympics.HEADERS, "now")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_reference_that_cannot_be_measured_stops_validation_and_is_retried_in_place(tmp_path, monkeypatch,
                                                                                      capsys):
    broken = write_submission(tmp_path / "reference", "def load_model(path):\n    raise RuntimeError('stub')\n")
    monkeypatch.setattr(olympics, "REFERENCE", broken)
    monkeypatch.chdir(ROOT)
    store = ["--store", str(tmp_path / "store")]
    for _ in range(2):
        code, text = tito(capsys, "olympics", "validate", *FAST, *store)
        assert code == 1 and "the reference" in text and "stub" in text, text
    assert rows(tmp_path / "store", "SELECT COUNT(*) FROM submissions WHERE reference = 1") == [(1,)]
