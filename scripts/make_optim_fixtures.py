"""Write tests/fixtures/torch_optim.npz: what PyTorch's optimizers, learning-rate schedulers and
gradient clipping do, step by step, on fixed float64 parameters and gradients.

Run it with a Python that has torch 2.13 (the tests and CI never need torch; they only read the
.npz). A local wheel makes the install work offline:

    python3 -m venv /tmp/torchopt && /tmp/torchopt/bin/pip install torch==2.13.0 numpy
    /tmp/torchopt/bin/python scripts/make_optim_fixtures.py

The file holds arrays only (np.savez_compressed, read with allow_pickle=False). Configurations are JSON text
stored as 0-d unicode arrays, so the tests build TinyTorch's side from the same description:

    opt/<case>/config           {"optimizer": name, "kwargs": {...}, "groups": [{"params": [i, ...],
                                 option: value, ...}] or null}
    opt/<case>/param<i>         (steps + 1, *shape): parameter i before the first step, then after each
    opt/grad<i>                 (steps, *shape): the gradient given to parameter i before each step
                                (the same sequence for every case)
    opt/<case>/has_grad         (steps, n_params) bool: False means p.grad was None for that step
    opt/<case>/state/<i>/<key>  the optimizer's final per-parameter state (state_dict()["state"])
    sched/<case>/config         {"optimizer": {...}, "scheduler": {"name": ..., "kwargs": {...}}, "steps": n}
    sched/<case>/lr             (steps + 1, n_groups): get_last_lr() after construction and after each step
    sched/<case>/momentum       (steps + 1, n_groups): group["momentum"] or group["betas"][0]
    clip/<case>/config          {"fn": "norm" | "value", "max_norm" | "clip_value": ..., "norm_type": ...}
                                (an infinite norm_type is written as the string "inf")
    clip/<case>/grad<i>         the gradient before clipping (absent when has_grad[i] is False)
    clip/<case>/clipped<i>      the gradient after clipping
    clip/<case>/has_grad        (n_params,) bool
    clip/<case>/total           the returned total norm (clip_grad_norm_ only)

tests/06_optimizers/test_optim_torch_parity.py is the TinyTorch side.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "torch_optim.npz"
STEPS = 6
SCHEDULER_STEPS = 30
SHAPES = [(3, 4), (5,), (2,)]
GRAD_SCALES = [1.0, 3.0, 0.2, 1.5, 0.05, 0.7]  # varying sizes make amsgrad's running max matter

rng = np.random.default_rng(20240606)
ARRAYS: dict[str, np.ndarray] = {}


def put(key: str, value) -> None:
    if key in ARRAYS:
        raise KeyError(f"duplicate fixture key {key}")
    ARRAYS[key] = np.asarray(value)


def put_json(key: str, value) -> None:
    put(key, np.array(json.dumps(value, sort_keys=True)))


# ----- optimizers ------------------------------------------------------------------------------
INITIAL = [rng.standard_normal(shape) for shape in SHAPES]
GRADS = [np.stack([rng.standard_normal(shape) * s for s in GRAD_SCALES]) for shape in SHAPES]
for _i, _grad in enumerate(GRADS):
    put(f"opt/grad{_i}", _grad)
ALL_GRADS = np.ones((STEPS, len(SHAPES)), dtype=bool)
SOME_MISSING = ALL_GRADS.copy()
SOME_MISSING[0, 2] = False  # parameter 2 first gets a gradient at step 1: its state starts late
SOME_MISSING[2, 1] = False  # parameter 1 skips step 2: its state (and Adam's step count) pauses
SOME_MISSING[3, 1] = False


def optimizer_case(name: str, optimizer: str, kwargs: dict, groups=None, has_grad=ALL_GRADS) -> None:
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in INITIAL]
    if groups is None:
        opt_params = params
    else:
        opt_params = [{**{k: v for k, v in g.items() if k != "params"},
                       "params": [params[i] for i in g["params"]]} for g in groups]
    torch_kwargs = dict(kwargs)
    if "betas" in torch_kwargs:
        torch_kwargs["betas"] = tuple(torch_kwargs["betas"])
    opt = getattr(torch.optim, optimizer)(opt_params, **torch_kwargs, foreach=False)
    history = [[p.detach().numpy().copy()] for p in params]
    for step in range(STEPS):
        opt.zero_grad(set_to_none=True)
        for i, p in enumerate(params):
            if has_grad[step, i]:
                p.grad = torch.tensor(GRADS[i][step])
        opt.step()
        for i, p in enumerate(params):
            history[i].append(p.detach().numpy().copy())
    put_json(f"opt/{name}/config", {"optimizer": optimizer, "kwargs": kwargs, "groups": groups})
    put(f"opt/{name}/has_grad", has_grad)
    for i in range(len(params)):
        put(f"opt/{name}/param{i}", np.stack(history[i]))
    for index, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            put(f"opt/{name}/state/{index}/{key}", value.detach().numpy().copy())


optimizer_case("sgd_defaults", "SGD", {})
optimizer_case("sgd_plain", "SGD", {"lr": 0.1})
optimizer_case("sgd_momentum", "SGD", {"lr": 0.1, "momentum": 0.9})
optimizer_case("sgd_dampening", "SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3})
optimizer_case("sgd_nesterov", "SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True})
optimizer_case("sgd_weight_decay", "SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1})
optimizer_case("sgd_plain_weight_decay", "SGD", {"lr": 0.2, "weight_decay": 0.3})
optimizer_case("sgd_maximize", "SGD", {"lr": 0.1, "maximize": True})
optimizer_case("sgd_nesterov_decay_maximize", "SGD",
               {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01, "maximize": True})
optimizer_case("sgd_groups", "SGD", {"lr": 0.1},
               groups=[{"params": [0], "lr": 0.5}, {"params": [1, 2], "momentum": 0.9, "weight_decay": 0.2}])
optimizer_case("sgd_skip_grads", "SGD", {"lr": 0.1, "momentum": 0.9}, has_grad=SOME_MISSING)

optimizer_case("adam_defaults", "Adam", {})
optimizer_case("adam_lr", "Adam", {"lr": 0.1})
optimizer_case("adam_betas_eps", "Adam", {"lr": 0.05, "betas": [0.5, 0.9], "eps": 1e-3})
optimizer_case("adam_weight_decay", "Adam", {"lr": 0.05, "weight_decay": 0.1})
optimizer_case("adam_amsgrad", "Adam", {"lr": 0.05, "amsgrad": True})
optimizer_case("adam_amsgrad_decay_maximize", "Adam",
               {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1, "maximize": True})
optimizer_case("adam_decoupled", "Adam", {"lr": 0.1, "weight_decay": 0.3, "decoupled_weight_decay": True})
optimizer_case("adam_groups", "Adam", {"lr": 0.01},
               groups=[{"params": [0, 2], "lr": 0.1, "betas": [0.8, 0.99]}, {"params": [1], "amsgrad": True}])
optimizer_case("adam_skip_grads", "Adam", {"lr": 0.05}, has_grad=SOME_MISSING)

optimizer_case("adamw_defaults", "AdamW", {})
optimizer_case("adamw_decay", "AdamW", {"lr": 0.1, "weight_decay": 0.5})
optimizer_case("adamw_amsgrad_maximize", "AdamW",
               {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True, "maximize": True})
optimizer_case("adamw_skip_grads", "AdamW", {"lr": 0.1, "weight_decay": 0.2}, has_grad=SOME_MISSING)

optimizer_case("rmsprop_defaults", "RMSprop", {})
optimizer_case("rmsprop_lr", "RMSprop", {"lr": 0.001})
optimizer_case("rmsprop_centered", "RMSprop", {"lr": 0.01, "centered": True})
optimizer_case("rmsprop_momentum", "RMSprop", {"lr": 0.01, "momentum": 0.9})
optimizer_case("rmsprop_weight_decay", "RMSprop", {"lr": 0.01, "weight_decay": 0.1})
optimizer_case("rmsprop_everything", "RMSprop",
               {"lr": 0.01, "alpha": 0.9, "eps": 1e-4, "weight_decay": 0.1, "momentum": 0.5,
                "centered": True, "maximize": True})
optimizer_case("rmsprop_skip_grads", "RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True},
               has_grad=SOME_MISSING)


# ----- learning-rate schedulers ----------------------------------------------------------------
def build_optimizer(spec: dict):
    params = [torch.zeros(2, requires_grad=True) for _ in spec.get("group_lrs") or [None]]
    if spec.get("group_lrs"):
        params = [{"params": [p], "lr": lr} for p, lr in zip(params, spec["group_lrs"])]
    return getattr(torch.optim, spec["name"])(params, **spec["kwargs"])


def build_scheduler(optimizer, spec: dict):
    kwargs = dict(spec["kwargs"])
    if spec["name"] == "SequentialLR":
        kwargs["schedulers"] = [build_scheduler(optimizer, s) for s in kwargs["schedulers"]]
    return getattr(torch.optim.lr_scheduler, spec["name"])(optimizer, **kwargs)


def scheduler_case(name: str, optimizer: dict, scheduler: dict, steps: int = SCHEDULER_STEPS) -> None:
    opt = build_optimizer(optimizer)
    sched = build_scheduler(opt, scheduler)

    def momenta():
        return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]

    lrs, moms = [list(sched.get_last_lr())], [momenta()]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(list(sched.get_last_lr()))
        moms.append(momenta())
    put_json(f"sched/{name}/config", {"optimizer": optimizer, "scheduler": scheduler, "steps": steps})
    put(f"sched/{name}/lr", np.array(lrs, dtype=np.float64))
    put(f"sched/{name}/momentum", np.array(moms, dtype=np.float64))


SGD = {"name": "SGD", "kwargs": {"lr": 0.1}}
SGD2 = {"name": "SGD", "kwargs": {"lr": 0.1}, "group_lrs": [0.1, 0.02]}
SGD_MOMENTUM = {"name": "SGD", "kwargs": {"lr": 0.1, "momentum": 0.9}}
ADAM = {"name": "Adam", "kwargs": {"lr": 0.001, "betas": [0.9, 0.99]}}


def sched(name: str, **kwargs) -> dict:
    return {"name": name, "kwargs": kwargs}


scheduler_case("step_lr", SGD2, sched("StepLR", step_size=7, gamma=0.5))
scheduler_case("multistep_lr", SGD, sched("MultiStepLR", milestones=[5, 12, 12, 20], gamma=0.3))
scheduler_case("exponential_lr", SGD2, sched("ExponentialLR", gamma=0.9))
scheduler_case("cosine_lr", SGD, sched("CosineAnnealingLR", T_max=30))
scheduler_case("cosine_lr_periodic", SGD2, sched("CosineAnnealingLR", T_max=8, eta_min=0.01))
scheduler_case("linear_lr_default", SGD, sched("LinearLR"))
scheduler_case("linear_lr_decay", SGD2, sched("LinearLR", start_factor=1.0, end_factor=0.05, total_iters=20))
scheduler_case("onecycle_sgd", SGD_MOMENTUM, sched("OneCycleLR", max_lr=0.5, total_steps=30))
scheduler_case("onecycle_linear_three_phase", {**SGD2, "kwargs": {"lr": 0.1, "momentum": 0.9}},
               sched("OneCycleLR", max_lr=[0.5, 0.1], total_steps=30, anneal_strategy="linear",
                     three_phase=True, pct_start=0.25, div_factor=10.0, final_div_factor=100.0))
scheduler_case("onecycle_adam_beta1", ADAM,
               sched("OneCycleLR", max_lr=0.01, epochs=5, steps_per_epoch=6, base_momentum=0.8,
                     max_momentum=0.9))
scheduler_case("onecycle_no_momentum_cycle", SGD,
               sched("OneCycleLR", max_lr=0.3, total_steps=40, cycle_momentum=False, pct_start=0.4),
               steps=40)
scheduler_case("sequential_warmup_cosine", SGD,
               sched("SequentialLR", milestones=[5],
                     schedulers=[sched("LinearLR", start_factor=0.1, total_iters=5),
                                 sched("CosineAnnealingLR", T_max=25)]))
scheduler_case("sequential_three", SGD2,
               sched("SequentialLR", milestones=[6, 15],
                     schedulers=[sched("LinearLR", start_factor=0.5, total_iters=4),
                                 sched("ExponentialLR", gamma=0.8),
                                 sched("StepLR", step_size=3, gamma=0.5)]))
scheduler_case("sequential_multistep_cosine", SGD2,
               sched("SequentialLR", milestones=[10],
                     schedulers=[sched("MultiStepLR", milestones=[3, 6], gamma=0.5),
                                 sched("CosineAnnealingLR", T_max=6, eta_min=0.001)]))


# ----- gradient clipping -----------------------------------------------------------------------
def clip_case(name: str, config: dict, has_grad=(True, True, True), scale: float = 1.0) -> None:
    params = [torch.zeros(shape, dtype=torch.float64, requires_grad=True) for shape in SHAPES]
    grads = [rng.standard_normal(shape) * scale for shape in SHAPES]
    for p, g, present in zip(params, grads, has_grad):
        if present:
            p.grad = torch.tensor(g)
    if config["fn"] == "norm":
        norm_type = float(config["norm_type"])
        total = torch.nn.utils.clip_grad_norm_(params, config["max_norm"], norm_type=norm_type, foreach=False)
        put(f"clip/{name}/total", total.numpy())
        if math.isinf(norm_type):
            config = {**config, "norm_type": "inf"}
    else:
        torch.nn.utils.clip_grad_value_(params, config["clip_value"], foreach=False)
    put_json(f"clip/{name}/config", config)
    put(f"clip/{name}/has_grad", np.array(has_grad))
    for i, (p, g, present) in enumerate(zip(params, grads, has_grad)):
        if present:
            put(f"clip/{name}/grad{i}", g)
            put(f"clip/{name}/clipped{i}", p.grad.numpy().copy())


clip_case("norm2_clipped", {"fn": "norm", "max_norm": 1.0, "norm_type": 2.0})
clip_case("norm2_not_clipped", {"fn": "norm", "max_norm": 100.0, "norm_type": 2.0})
clip_case("norm_inf", {"fn": "norm", "max_norm": 0.5, "norm_type": float("inf")})
clip_case("norm_inf_not_clipped", {"fn": "norm", "max_norm": 10.0, "norm_type": float("inf")})
clip_case("norm1", {"fn": "norm", "max_norm": 2.0, "norm_type": 1.0})
clip_case("norm3", {"fn": "norm", "max_norm": 1.0, "norm_type": 3.0}, scale=4.0)
clip_case("norm2_missing_grad", {"fn": "norm", "max_norm": 0.7, "norm_type": 2.0}, has_grad=(True, False, True))
clip_case("value", {"fn": "value", "clip_value": 0.3})
clip_case("value_missing_grad", {"fn": "value", "clip_value": 1.0}, has_grad=(False, True, True), scale=2.0)


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **ARRAYS)
    print(f"wrote {OUT} ({len(ARRAYS)} arrays, {OUT.stat().st_size / 1024:.1f} KiB) with torch {torch.__version__}")
