"""`tito profile MODEL`: module 14's per-layer profiler table for a milestone's model.

MODEL is one of the milestones' networks, built by the milestone's own code (so the table is
the model the learner trains): `mlp` (1986, the MNIST recipe's 784-512-256-10), `lenet5`
(1998, LeNet-5 on 28x28 images) and `gpt` (2017, the transformer recipe). The inputs are random
data of the recipe's shapes and batch size: FLOPs, memory and time do not depend on the values.
Everything runs on this repository's tinytorch; a learner's unfinished module is one clear line
naming it, never a traceback.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from tito.errors import TitoError, UsageError

MODELS = ("mlp", "lenet5", "gpt")
ALIASES = {"lenet": "lenet5", "cnn": "lenet5", "transformer": "gpt"}
VOCAB = 65  # tiny-Shakespeare's characters: the vocabulary of the 2017 milestone's default task


def load_milestone(root: Path, folder: str):
    """milestones/<folder>/run.py as a module (its main() is not run)."""
    path = root / "milestones" / folder / "run.py"
    if not path.is_file():
        raise TitoError(f"{path.relative_to(root).as_posix()} is missing; it defines the model")
    spec = importlib.util.spec_from_file_location(f"_tito_profile_{folder}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(root: Path, name: str, batch: int | None):
    """(model, inputs, loss_fn, description) for a milestone model at its recipe's batch size."""
    import numpy as np

    import tinytorch as tt
    from tinytorch.nn import functional as F

    rng = np.random.default_rng(0)
    tt.manual_seed(0)
    if name == "gpt":
        run = load_milestone(root, "2017_transformer")
        recipe = run.RECIPE
        keys = ("n_layer", "n_head", "n_embd", "block_size", "dropout", "bias")
        model = run.GPT(run.GPTConfig(vocab_size=VOCAB, **{k: recipe[k] for k in keys}))
        batch = batch or recipe["batch_size"]
        tokens = tt.Tensor(rng.integers(0, VOCAB, (batch, recipe["block_size"] + 1)))
        inputs = (tokens[:, :-1], tokens[:, 1:])  # GPT returns (logits, loss): the profiler uses its loss
        c = model.config
        return model, inputs, None, (f"GPT ({c.n_layer} layers, {c.n_head} heads, n_embd {c.n_embd}, "
                                     f"block_size {c.block_size}, vocabulary {VOCAB}), batch {batch}")
    if name == "mlp":
        run = load_milestone(root, "1986_mlp")
        recipe = run.RECIPES["mnist"]
        model = run.mlp(28 * 28, recipe["hidden"], 10, 0.0)
        title = "MLP 784-" + "-".join(str(w) for w in recipe["hidden"]) + "-10"
    else:
        run = load_milestone(root, "1998_cnn")
        recipe = run.RECIPES["mnist"]
        model = run.lenet5(10)
        title = "LeNet-5"
    batch = batch or recipe["batch_size"]
    images = tt.Tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    labels = tt.Tensor(rng.integers(0, 10, batch))
    return model, (images,), (lambda logits: F.cross_entropy(logits, labels)), f"{title} (MNIST recipe), batch {batch}"


def positive_int(text: str, name: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise UsageError(f"argument {name}: expected a positive integer, got {text!r}")
    return value


def cmd_profile(root: Path, model_name: str, batch, repeats, as_json: bool, trace) -> int:
    name = ALIASES.get(model_name.lower(), model_name.lower())
    if name not in MODELS:
        raise UsageError(f"argument MODEL: expected one of {', '.join(MODELS)}, got {model_name!r}")
    batch = None if batch is None else positive_int(batch, "--batch")
    repeats = positive_int(repeats, "--repeats")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # this repository's tinytorch before any other installed copy
    try:
        from tinytorch.systems.profiling import Profiler

        model, inputs, loss_fn, title = build(root, name, batch)
        profiler = Profiler(model)
        profiler.profile(*inputs, loss_fn=loss_fn, warmup=1, repeats=repeats)
    except NotImplementedError as error:
        raise TitoError(f"{error} (the profiler runs your own modules; finish that one first)") from None
    except Exception as error:  # one line, not a traceback: the learner's code may be unfinished
        raise TitoError(f"{name}: {type(error).__name__}: {error}") from None
    if trace is not None:
        try:
            written = profiler.export_chrome_trace(trace)
        except (OSError, TypeError) as error:
            raise TitoError(str(error)) from None
    if as_json:
        print(profiler.to_json(indent=None))
    else:
        print(title)
        print(profiler.table())
        if trace is not None:
            print(f"Chrome trace written to {written} (open it at https://ui.perfetto.dev)")
    return 0


def register(commands, leaf) -> None:
    from tito.repo import project_root

    parser = commands.add_parser("profile", help="per-layer profile (module 14) of a milestone model",
                                 description="Print module 14's profiler table (parameters, FLOPs, activation "
                                 "memory, forward/backward time) for a milestone model on random inputs of "
                                 "its recipe's shapes.")
    parser.add_argument("model", metavar="MODEL", help=f"one of {', '.join(MODELS)}")
    parser.add_argument("--batch", metavar="N", help="batch size (default: the milestone recipe's)")
    parser.add_argument("--repeats", metavar="N", default="5", help="profiled steps, median taken (default 5)")
    parser.add_argument("--json", action="store_true", help="print the rows and totals as one JSON line")
    parser.add_argument("--trace", metavar="PATH", help="also write a Chrome-trace JSON of the last step")
    leaf(parser, lambda a: cmd_profile(project_root(), a.model, a.batch, a.repeats, a.json, a.trace))
