"""`tito milestone list|run` on a fake milestone."""

from __future__ import annotations

from tito import progress
from tito.export import find_modules


def complete_all(root):
    for module in find_modules(root):
        progress.mark_completed(root, module)


def test_list_reads_metadata_without_running_the_script(fake_repo, tito):
    code, out, _ = tito(fake_repo, "milestone", "list")
    assert code == 0, out
    row = next(line for line in out.splitlines() if line.startswith("1969_xor"))
    assert row.split()[:2] == ["1969_xor", "1969"]
    assert "Fake XOR" in row and "no" in row and "01_tensor, 02_activations" in row
    assert not (fake_repo / "milestone_was_executed").exists()
    complete_all(fake_repo)
    row = next(
        line
        for line in tito(fake_repo, "milestone", "list")[1].splitlines()
        if line.startswith("1969_xor")
    )
    assert " yes " in row


def test_run_refuses_while_modules_are_incomplete(fake_repo, tito):
    progress.mark_completed(fake_repo, find_modules(fake_repo)[0])
    code, out, err = tito(fake_repo, "milestone", "run", "1969_xor")
    assert code == 1
    assert "milestone 1969_xor is locked" in err
    assert "02_activations" in err and "tito module complete 02" in err
    assert "01_tensor," not in err  # the completed module is not listed
    assert not (fake_repo / "milestone_was_executed").exists()


def test_force_runs_a_locked_milestone(fake_repo, tito):
    code, out, _ = tito(fake_repo, "milestone", "run", "xor", "--force")
    assert code == 0, out
    assert "training on [0.0, 2.0]" in out


def test_run_streams_output_and_passes_the_exit_code(fake_repo, tito):
    complete_all(fake_repo)
    code, out, _ = tito(fake_repo, "milestone", "run", "1969")
    assert code == 0 and "training on" in out
    code, _, err = tito(fake_repo, "milestone", "run", "1969_xor", "--", "--fail")
    assert code == 3 and "exited with status 3" in err


def test_json_mode_checks_the_last_line(fake_repo, tito):
    complete_all(fake_repo)
    code, out, _ = tito(fake_repo, "milestone", "run", "1969_xor", "--json", "--", "--seed", "1")
    assert code == 0, out
    assert out.strip().splitlines()[-1] == '{"args": ["--json", "--seed", "1"]}'
    code, _, err = tito(fake_repo, "milestone", "run", "1969_xor", "--json", "--", "--bad-json")
    assert code == 1
    assert "the last line of its output must be a JSON object, got 'not json at all'" in err


def test_milestone_arguments_are_validated(fake_repo, tito, kit):
    code, _, err = tito(fake_repo, "milestone", "run", "1492_columbus")
    assert (
        code == 2 and "argument NAME" in err and "got '1492_columbus'" in err and "1969_xor" in err
    )
    code, _, err = tito(fake_repo, "milestone", "list", "--", "extra")
    assert code == 2 and "unexpected arguments after '--'" in err
    kit.write(fake_repo, "milestones/1986_backprop/run.py", "MILESTONE = dict(title='x')\n")
    code, _, err = tito(fake_repo, "milestone", "list")
    assert code == 1
    assert "milestones/1986_backprop/run.py" in err and "literal dict" in err


OPTIONS_MILESTONE = '''import argparse

MILESTONE = {"title": "Fake MLP", "year": 1986, "requires": ["01_tensor"], "description": "takes options"}

parser = argparse.ArgumentParser(description="Fake MLP (1986)")
parser.add_argument("--dataset", choices=["tinydigits", "mnist"], default="tinydigits", help="which digits")
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--json", action="store_true")
args = parser.parse_args()
print(f"dataset={args.dataset} epochs={args.epochs} json={args.json}")
'''


def test_the_milestones_own_options_are_forwarded_and_shown_by_help(fake_repo, tito, kit):
    kit.write(fake_repo, "milestones/1986_mlp/run.py", OPTIONS_MILESTONE)
    # --help works while the milestone is locked: it shows options, it trains nothing.
    code, out, _ = tito(fake_repo, "milestone", "run", "1986_mlp", "--help")
    assert code == 0, out
    assert "usage: tito milestone run 1986_mlp" in out and "--dataset {tinydigits,mnist}" in out
    assert "which digits" in out
    complete_all(fake_repo)
    code, out, _ = tito(fake_repo, "milestone", "run", "mlp", "--dataset", "mnist", "--epochs", "3")
    assert code == 0, out
    assert "dataset=mnist epochs=3 json=False" in out
    code, out, _ = tito(fake_repo, "milestone", "run", "1986", "--epochs", "2", "--json", "--", "--dataset", "mnist")
    assert code == 1  # the fake prints no JSON line; what matters is what it was given
    assert "dataset=mnist epochs=2 json=True" in out
    code, out, err = tito(fake_repo, "milestone", "run", "1986", "--epochs", "x")
    assert code == 2 and "argument --epochs: invalid int value: 'x'" in out  # the milestone's own error
    code, _, err = tito(fake_repo, "milestone", "run", "--dataset", "mnist", "1986")
    assert code == 2 and "options go after its NAME" in err and err.count("\n") == 1
    code, out, _ = tito(fake_repo, "milestone", "run", "--help")
    assert code == 0 and "tito milestone run NAME --help` lists them" in out
