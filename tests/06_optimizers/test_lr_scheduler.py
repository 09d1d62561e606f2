"""Learning-rate schedulers: semantics beyond the PyTorch fixtures, state_dict, and clear errors."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from tinytorch.core.layers import Parameter
from tinytorch.optim import SGD, Adam, Optimizer, RMSprop, flatten_state_dict, unflatten_state_dict
from tinytorch.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    SequentialLR,
    StepLR,
)


def sgd(lr=0.1, groups=1, **kwargs):
    params = [{"params": [Parameter(np.zeros(2))], "lr": lr * (i + 1)} for i in range(groups)]
    return SGD(params, lr=lr, **kwargs)


def run(opt, sched, steps):
    lrs = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
    return np.array(lrs)


SCHEDULES = {
    "step": (lambda: sgd(groups=2), lambda o: StepLR(o, step_size=3, gamma=0.5)),
    "multistep": (lambda: sgd(), lambda o: MultiStepLR(o, milestones=[2, 5, 5], gamma=0.1)),
    "exponential": (lambda: sgd(groups=2), lambda o: ExponentialLR(o, gamma=0.9)),
    "cosine": (lambda: sgd(), lambda o: CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
    "linear": (lambda: sgd(), lambda o: LinearLR(o, start_factor=0.25, total_iters=6)),
    "onecycle": (lambda: sgd(momentum=0.9, groups=2),
                 lambda o: OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=20, three_phase=True)),
    "onecycle_adam": (lambda: Adam([Parameter(np.zeros(2))]), lambda o: OneCycleLR(o, max_lr=0.01, total_steps=20)),
    "sequential": (lambda: sgd(groups=2), lambda o: SequentialLR(
        o, [LinearLR(o, start_factor=0.1, total_iters=3), ExponentialLR(o, gamma=0.8),
            CosineAnnealingLR(o, T_max=6)], milestones=[3, 8])),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_state_dict_round_trip_continues_the_same_schedule(name):
    make_opt, make_sched = SCHEDULES[name]
    opt = make_opt()
    sched = make_sched(opt)
    run(opt, sched, 6)
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    buffer = io.BytesIO()
    np.savez(buffer, **flatten_state_dict(opt_state, "optimizer/"), **flatten_state_dict(sched_state, "scheduler/"))
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as stored:
        opt_state, sched_state = unflatten_state_dict(stored, "optimizer/"), unflatten_state_dict(stored, "scheduler/")
    expected = run(opt, sched, 10)[1:]
    resumed_opt = make_opt()
    resumed = make_sched(resumed_opt)  # PyTorch's order: build the scheduler, then load both states
    resumed_opt.load_state_dict(opt_state)
    resumed.load_state_dict(sched_state)
    np.testing.assert_allclose(run(resumed_opt, resumed, 10)[1:], expected, rtol=0, atol=0,
                               err_msg=f"{name}: a resumed scheduler must continue exactly where it stopped")


def test_last_epoch_base_lrs_and_initial_lr():
    opt = sgd(groups=2)
    sched = StepLR(opt, step_size=2)
    assert sched.last_epoch == 0 and sched.base_lrs == [0.1, 0.2]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.2]
    run(opt, sched, 5)
    assert sched.last_epoch == 5
    lrs = sched.get_last_lr()
    lrs[0] = 123.0
    assert sched.get_last_lr()[0] != 123.0, "get_last_lr must return a copy"


def test_chainable_form_continues_from_a_manually_changed_lr():
    opt = sgd()
    sched = ExponentialLR(opt, gamma=0.5)
    opt.param_groups[0]["lr"] = 1.0
    opt.step()
    sched.step()
    assert sched.get_last_lr() == [0.5], "schedulers compute the next lr from the current group['lr']"


def test_warmup_sets_the_first_lr_at_construction():
    opt = sgd(lr=0.3)
    LinearLR(opt)
    assert math.isclose(opt.param_groups[0]["lr"], 0.1), "LinearLR's constructor already applies start_factor"


def test_cosine_recursive_form_follows_the_closed_form():
    opt = sgd(lr=1.0)
    sched = CosineAnnealingLR(opt, T_max=50, eta_min=0.01)
    got = run(opt, sched, 120)[:, 0]
    t = np.arange(121)
    closed = 0.01 + 0.99 * (1 + np.cos(np.pi * t / 50)) / 2
    np.testing.assert_allclose(got, closed, atol=1e-7)


def test_onecycle_phases_and_momentum():
    opt = sgd(momentum=0.5)
    sched = OneCycleLR(opt, max_lr=1.0, epochs=2, steps_per_epoch=10, base_momentum=0.8, max_momentum=0.9)
    assert sched.total_steps == 20
    assert opt.param_groups[0]["momentum"] == 0.9 and math.isclose(opt.param_groups[0]["lr"], 1.0 / 25)
    lrs = run(opt, sched, 19)[:, 0]
    assert int(np.argmax(lrs)) == 5 and math.isclose(lrs.max(), 1.0)
    assert math.isclose(lrs[-1], 1.0 / 25 / 1e4) and math.isclose(opt.param_groups[0]["momentum"], 0.9)
    opt.step()
    sched.step()  # the one extra step PyTorch tolerates
    with pytest.raises(ValueError, match="total steps"):
        sched.step()


def test_onecycle_cycles_adam_beta1_and_rmsprop_momentum():
    adam = Adam([Parameter(np.zeros(2))], betas=(0.9, 0.99))
    OneCycleLR(adam, max_lr=0.01, total_steps=10, max_momentum=0.97)
    assert adam.param_groups[0]["betas"] == (0.97, 0.99)
    rms = RMSprop([Parameter(np.zeros(2))])
    OneCycleLR(rms, max_lr=0.01, total_steps=10)
    assert rms.param_groups[0]["momentum"] == 0.95


class _NoMomentum(Optimizer):
    def __init__(self, params):
        super().__init__(params, {"lr": 0.1})

    def step(self, closure=None):
        return None


BAD = [
    ("not an optimizer", lambda: StepLR(object(), step_size=1), TypeError, "expected an Optimizer"),
    ("step_size 0", lambda: StepLR(sgd(), step_size=0), ValueError, "step_size"),
    ("T_max 0", lambda: CosineAnnealingLR(sgd(), T_max=0), ValueError, "T_max"),
    ("milestones unsorted", lambda: MultiStepLR(sgd(), milestones=[5, 2]), ValueError, "increasing"),
    ("start_factor 0", lambda: LinearLR(sgd(), start_factor=0), ValueError, "start_factor"),
    ("start_factor > 1", lambda: LinearLR(sgd(), start_factor=1.5), ValueError, "start_factor"),
    ("end_factor > 1", lambda: LinearLR(sgd(), end_factor=2.0), ValueError, "end_factor"),
    ("total_iters 0", lambda: LinearLR(sgd(), total_iters=0), ValueError, "total_iters"),
    ("resume without initial_lr", lambda: ExponentialLR(sgd(), gamma=0.9, last_epoch=3), KeyError, "initial_lr"),
    ("bad last_epoch", lambda: ExponentialLR(sgd(), gamma=0.9, last_epoch=-5), ValueError, "last_epoch"),
    ("onecycle no length", lambda: OneCycleLR(sgd(), max_lr=0.1), ValueError, "total_steps"),
    ("onecycle total 0", lambda: OneCycleLR(sgd(), max_lr=0.1, total_steps=0), ValueError, "total_steps"),
    ("onecycle bad epochs", lambda: OneCycleLR(sgd(), 0.1, epochs=0, steps_per_epoch=3), ValueError, "epochs"),
    ("onecycle pct_start", lambda: OneCycleLR(sgd(), 0.1, total_steps=10, pct_start=1.5), ValueError, "pct_start"),
    ("onecycle strategy", lambda: OneCycleLR(sgd(), 0.1, total_steps=10, anneal_strategy="exp"), ValueError,
     "anneal_strategy"),
    ("onecycle max_lr list", lambda: OneCycleLR(sgd(groups=2), [0.1], total_steps=10), ValueError, "per param group"),
    ("onecycle without momentum", lambda: OneCycleLR(_NoMomentum([Parameter(np.zeros(1))]), 0.1, total_steps=5),
     ValueError, "momentum or beta1"),
]


@pytest.mark.parametrize("make, kind, fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_scheduler_arguments(make, kind, fragment):
    with pytest.raises(kind) as info:
        make()
    assert fragment in str(info.value), f"expected {fragment!r} in: {info.value}"


def test_sequential_lr_errors():
    opt, other = sgd(), sgd()
    with pytest.raises(ValueError, match="at least one scheduler"):
        SequentialLR(opt, [], milestones=[])
    with pytest.raises(ValueError, match="one milestone fewer"):
        SequentialLR(opt, [StepLR(opt, 2), StepLR(opt, 3)], milestones=[2, 4])
    with pytest.raises(ValueError, match="same optimizer"):
        SequentialLR(opt, [StepLR(opt, 2), StepLR(other, 3)], milestones=[2])
    with pytest.raises(TypeError, match="not an LRScheduler"):
        SequentialLR(opt, [StepLR(opt, 2), "cosine"], milestones=[2])
    with pytest.raises(ValueError, match="increasing"):
        SequentialLR(opt, [StepLR(opt, 2), StepLR(opt, 3), StepLR(opt, 4)], milestones=[5, 2])


def test_load_state_dict_of_a_different_scheduler():
    opt = sgd()
    with pytest.raises(ValueError, match="different scheduler"):
        StepLR(opt, step_size=2).load_state_dict(CosineAnnealingLR(sgd(), T_max=3).state_dict())
    with pytest.raises(ValueError, match="2 schedulers"):
        seq = SequentialLR(opt, [StepLR(opt, 2), ExponentialLR(opt, 0.5)], milestones=[3])
        seq.load_state_dict(StepLR(sgd(), 2).state_dict())


def test_base_class_get_lr_is_abstract():
    with pytest.raises(NotImplementedError, match="get_lr"):
        LRScheduler(sgd())
