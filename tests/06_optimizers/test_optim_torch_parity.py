"""TinyTorch's optimizers, schedulers and gradient clipping against PyTorch, step for step.

tests/fixtures/torch_optim.npz was written by scripts/make_optim_fixtures.py with torch 2.13 (which
these tests never import). Each case stores its configuration as JSON text, so TinyTorch's side is
built from the same description. Everything is float64; the tolerances only allow for rounding
differences (PyTorch fuses some multiply-adds, NumPy does not).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor
from tinytorch.optim import SGD, Adam, AdamW, RMSprop, clip_grad_norm_, clip_grad_value_
from tinytorch.optim import lr_scheduler as schedulers

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "torch_optim.npz"
RTOL, ATOL = 1e-10, 1e-13
OPTIMIZERS = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW, "RMSprop": RMSprop}

with np.load(FIXTURES, allow_pickle=False) as _data:
    DATA = {key: _data[key] for key in _data.files}


def case_names(kind: str) -> list[str]:
    return sorted(key.split("/")[1] for key in DATA if key.startswith(kind + "/") and key.endswith("/config"))


def config(kind: str, case: str) -> dict:
    return json.loads(str(DATA[f"{kind}/{case}/config"]))


def test_fixture_file_covers_every_feature():
    names = set(case_names("opt")) | set(case_names("sched")) | set(case_names("clip"))
    for needed in ["sgd_nesterov", "sgd_dampening", "sgd_maximize", "sgd_weight_decay", "adam_amsgrad",
                   "adamw_decay", "rmsprop_centered", "rmsprop_everything", "onecycle_adam_beta1",
                   "sequential_warmup_cosine", "norm_inf", "value"]:
        assert needed in names, f"fixture case {needed} is missing; rerun scripts/make_optim_fixtures.py"


# ----- optimizers ------------------------------------------------------------------------------
def build_optimizer(case: str):
    spec = config("opt", case)
    n_params = sum(1 for key in DATA if key.startswith(f"opt/{case}/param"))
    params = [Tensor(DATA[f"opt/{case}/param{i}"][0].copy(), requires_grad=True) for i in range(n_params)]
    if spec["groups"] is None:
        targets = params
    else:
        targets = [{**{k: v for k, v in g.items() if k != "params"}, "params": [params[i] for i in g["params"]]}
                   for g in spec["groups"]]
    return params, OPTIMIZERS[spec["optimizer"]](targets, **spec["kwargs"])


@pytest.mark.parametrize("case", case_names("opt"))
def test_optimizer_matches_torch_step_for_step(case):
    params, opt = build_optimizer(case)
    has_grad = DATA[f"opt/{case}/has_grad"]
    for step in range(has_grad.shape[0]):
        opt.zero_grad()
        for i, p in enumerate(params):
            if has_grad[step, i]:
                p.grad = Tensor(DATA[f"opt/grad{i}"][step].copy())
        opt.step()
        for i, p in enumerate(params):
            np.testing.assert_allclose(p.data, DATA[f"opt/{case}/param{i}"][step + 1], rtol=RTOL, atol=ATOL,
                                       err_msg=f"{case}: parameter {i} after step {step + 1}")


@pytest.mark.parametrize("case", case_names("opt"))
def test_optimizer_state_matches_torch(case):
    params, opt = build_optimizer(case)
    has_grad = DATA[f"opt/{case}/has_grad"]
    for step in range(has_grad.shape[0]):
        for i, p in enumerate(params):
            p.grad = Tensor(DATA[f"opt/grad{i}"][step].copy()) if has_grad[step, i] else None
        opt.step()
    prefix = f"opt/{case}/state/"
    expected: dict[int, dict[str, np.ndarray]] = {}
    for key in DATA:
        if key.startswith(prefix):
            index, name = key[len(prefix):].split("/")
            expected.setdefault(int(index), {})[name] = DATA[key]
    state = opt.state_dict()["state"]
    assert {i: set(s) for i, s in state.items() if s} == {i: set(s) for i, s in expected.items()}, (
        f"{case}: the state entries differ from PyTorch's")
    for index, entries in expected.items():
        for name, value in entries.items():
            np.testing.assert_allclose(np.asarray(state[index][name], dtype=np.float64), value, rtol=RTOL,
                                       atol=ATOL, err_msg=f"{case}: state[{index}][{name!r}]")


# ----- schedulers ------------------------------------------------------------------------------
def build_schedule(spec: dict):
    opt_spec = spec["optimizer"]
    params = [Tensor(np.zeros(2), requires_grad=True) for _ in opt_spec.get("group_lrs") or [None]]
    if opt_spec.get("group_lrs"):
        params = [{"params": [p], "lr": lr} for p, lr in zip(params, opt_spec["group_lrs"])]
    opt = OPTIMIZERS[opt_spec["name"]](params, **opt_spec["kwargs"])

    def build(s):
        kwargs = dict(s["kwargs"])
        if s["name"] == "SequentialLR":
            kwargs["schedulers"] = [build(inner) for inner in kwargs["schedulers"]]
        return getattr(schedulers, s["name"])(opt, **kwargs)

    return opt, build(spec["scheduler"])


def momenta(opt) -> list[float]:
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


@pytest.mark.parametrize("case", case_names("sched"))
def test_scheduler_matches_torch(case):
    spec = config("sched", case)
    opt, sched = build_schedule(spec)
    lrs, moms = [sched.get_last_lr()], [momenta(opt)]
    for _ in range(spec["steps"]):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
        moms.append(momenta(opt))
    np.testing.assert_allclose(np.array(lrs), DATA[f"sched/{case}/lr"], rtol=1e-12, atol=1e-15,
                               err_msg=f"{case}: learning rates (rows: after construction, then each step)")
    np.testing.assert_allclose(np.array(moms), DATA[f"sched/{case}/momentum"], rtol=1e-12, atol=1e-15,
                               err_msg=f"{case}: momentum / beta1")
    assert [g["lr"] for g in opt.param_groups] == lrs[-1], "get_last_lr() must equal the groups' lr"


# ----- gradient clipping -----------------------------------------------------------------------
@pytest.mark.parametrize("case", case_names("clip"))
def test_clipping_matches_torch(case):
    spec = config("clip", case)
    has_grad = DATA[f"clip/{case}/has_grad"]
    params = []
    for i, present in enumerate(has_grad):
        p = Tensor(np.zeros(3), requires_grad=True)
        if present:
            p = Tensor(np.zeros_like(DATA[f"clip/{case}/grad{i}"]), requires_grad=True)
            p.grad = Tensor(DATA[f"clip/{case}/grad{i}"].copy())
        params.append(p)
    if spec["fn"] == "norm":
        norm_type = math.inf if spec["norm_type"] == "inf" else spec["norm_type"]
        total = clip_grad_norm_(params, spec["max_norm"], norm_type=norm_type)
        assert isinstance(total, Tensor) and total.shape == ()
        np.testing.assert_allclose(float(total), DATA[f"clip/{case}/total"], rtol=1e-12, err_msg=f"{case}: total")
    else:
        assert clip_grad_value_(params, spec["clip_value"]) is None
    for i, p in enumerate(params):
        if has_grad[i]:
            np.testing.assert_allclose(p.grad.data, DATA[f"clip/{case}/clipped{i}"], rtol=1e-12, atol=1e-15,
                                       err_msg=f"{case}: gradient {i} after clipping")
        else:
            assert p.grad is None, "a parameter without a gradient must keep .grad = None"
