"""What runs inside the Olympics sandbox: load one submission, benchmark it, report its predictions.

`tito olympics validate` starts `python -I -S olympics_child.py CONFIG_JSON` in a fresh session
(tito/grading/sandbox.py's run_child: wall-time limit, output budget, the session killed
afterwards). In order, this file
1. lowers its own limits (CPU time, address space, file size, processes) with the grading
   harness's apply_limits, reads the run's secret from its pipe and closes the pipe;
2. builds sys.path itself: the repository (for tinytorch and tito), then site-packages;
3. installs the grading harness's audit hook: no writes outside the workspace, no reads of the
   datasets folder, the data cache or the Olympics store (the held-out labels live only there
   and in the parent's memory), each attempt reported as a violation;
4. imports module 19's harness and records it, NumPy and the timing modules (harness.Integrity),
   so a submission that patches the stopwatch is caught;
5. imports the submission's model file, calls its `load_model(weights, **options)`, runs
   `benchmark_model` on the images the parent wrote (no labels), and reports the measurement
   and the predictions as signed frames (harness.Channel).

Any exception is reported with the stage it happened in; the parent scores the predictions.
Only the standard library is imported at module level: the child starts with site disabled.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

PREDICTIONS_PER_FRAME = 4000  # ~24 KB of JSON, well inside one 64 KiB frame


def _read_secret(fd: int, size: int) -> bytes:
    secret = b""
    while len(secret) < size:
        chunk = os.read(fd, size - len(secret))
        if not chunk:
            break
        secret += chunk
    os.close(fd)
    return secret


def _where(error: BaseException) -> str:
    """The innermost frame of the submission's own files, so the message points at its line."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "olympics_child" not in f.filename]
    if not frames:
        return ""
    last = frames[-1]
    return f" ({os.path.basename(last.filename)}, line {last.lineno}, in {last.name})"


def _load_submission(config: dict):
    import importlib.util

    from tinytorch.core.layers import Module

    path = os.path.join(config["workspace"], "model.py")
    spec = importlib.util.spec_from_file_location("olympics_submission", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    load = getattr(module, "load_model", None)
    if not callable(load):
        raise TypeError("the model file defines no load_model(weights_path, **options) function")
    model = load(os.path.join(config["workspace"], "weights.npz"), **config["options"])
    if not isinstance(model, Module):
        raise TypeError(f"load_model must return a tinytorch Module, returned {type(model).__name__}")
    return model.eval()


def _inputs(config: dict):
    """The held-out images as the rules define them: float32 (N, 1, 28, 28), normalized."""
    import numpy as np

    images = np.load(os.path.join(config["workspace"], "inputs.npy"), allow_pickle=False)
    return ((images.astype(np.float32) / np.float32(255)) - np.float32(config["mean"])) / np.float32(config["std"])


def run(config: dict, channel) -> None:
    from tito.grading import harness

    stage, integrity = "import", None
    try:
        import numpy as np

        from tinytorch.systems import benchmarking

        integrity = harness.Integrity(extra_modules=("tinytorch.systems.benchmarking", "time", "tracemalloc"))
        inputs = _inputs(config)
        stage = "load"  # the model file, its load_model and the weights file
        model = _load_submission(config)
        stage = "benchmark"
        result = benchmarking.benchmark_model(
            model, inputs, None, batch_size=config["batch_size"], warmup=config["warmup"], repeats=config["repeats"]
        )
        if _tampered(integrity, channel):
            return
        predictions = np.asarray(result.predictions)
        if predictions.shape != (len(inputs),) or predictions.dtype.kind not in "iu":
            raise ValueError(f"expected one integer class per image, shape ({len(inputs)},); the model's outputs "
                             f"gave {predictions.dtype} of shape {predictions.shape}")
        measured = result.to_dict()
        measured.pop("predictions", None)  # sent below in chunks: one frame holds at most 64 KiB
        channel.send({"kind": "result", "result": measured, "environment": measured.pop("environment", {})})
        for start in range(0, len(predictions), PREDICTIONS_PER_FRAME):
            values = predictions[start : start + PREDICTIONS_PER_FRAME].tolist()
            channel.send({"kind": "predictions", "start": start, "values": values})
    except BaseException as error:  # a crash of the submission is its own failure, reported, never ours
        if integrity is not None and _tampered(integrity, channel):
            return  # a patched clock often breaks the measurement too: the patch is the reason
        if isinstance(error, MemoryError):
            message = f"{type(error).__name__}: the memory limit was reached{_where(error)}"
        else:
            message = f"{type(error).__name__}: {error}"[:1500] + _where(error)
        channel.send({"kind": "error", "stage": stage, "message": message})


def _tampered(integrity, channel) -> bool:
    changed = integrity.changed()
    if changed:
        channel.send({"kind": "tamper", "names": changed[:20]})
    return bool(changed)


def main(argv: list[str]) -> None:
    config = json.loads(argv[1])
    sys.path[:0] = config["paths"]
    from tito.grading import harness

    harness.apply_limits(config["limits"])
    channel = harness.Channel(config["report_fd"], _read_secret(config["secret_fd"], harness.SECRET_BYTES))
    sys.dont_write_bytecode = True
    os.chdir(config["workspace"])
    harness.install_guard(config["writable"], [], config["unreadable"], [], channel.send)
    channel.send({"kind": "hello"})
    run(config, channel)
    channel.send({"kind": "end"})
    sys.stdout.flush()
    os._exit(0)  # no atexit handlers: the submission may have registered some


if __name__ == "__main__":
    main(sys.argv)
