"""Checkpoints of an unfinished run, and Ctrl-C handling around the training loop.

A checkpoint holds the model, optimizer, RNG states of Python/NumPy/torch, the positions of the
batch streams and the loop's bookkeeping; it is written to a temporary name and renamed, and
loaded with `weights_only=True` (tensors and plain containers only).
"""

from __future__ import annotations

import io
import logging
import random
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import numpy as np
import torch

from dabench.atomic import atomic_file

log = logging.getLogger("dabench")


REQUIRED = ("step", "net", "optimizer", "rng", "streams", "loop")


class Checkpoint:
    """checkpoint.pt in the run directory: model, optimizer, RNG states, stream positions."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "checkpoint.pt"
        self.previous = directory / "checkpoint.prev.pt"  # the one before, kept as a fallback

    def save(self, state: Any) -> None:
        """Write the state (taken at a step boundary) atomically (`dabench.atomic`), the current
        checkpoint becoming the previous one; on any error (a full disk: OSError ENOSPC) the
        temporary file is removed and the error raised, naming the checkpoint."""
        blob = {"step": state.step, **state.method.state(), "rng": rng_state(),
                "streams": [s.position() for s in state.streams], "loop": state.loop_state()}
        try:
            buffer = io.BytesIO()  # serialised in memory, written by Python: a full disk
            torch.save(blob, buffer)  # raises OSError ENOSPC, not torch's "unexpected pos"
            with atomic_file(self.path, keep_previous=self.previous) as fh:
                fh.write(buffer.getbuffer())
        except OSError as exc:
            if exc.filename is None:  # name the file in the error
                raise OSError(exc.errno, exc.strerror, str(self.path)) from None
            raise

    def resume(self, state: Any) -> Optional[int]:
        """Restore the newest usable checkpoint into `state` and return its step, or None for a
        fresh start. An unreadable or incomplete checkpoint is deleted and the previous one
        tried; a warning says which of the two happened (resumed from the previous one, or
        started over)."""
        problems = []
        for path in (self.path, self.previous):
            if not path.is_file():
                continue
            try:
                blob = torch.load(path, map_location="cpu", weights_only=True)
                why = _problem(blob, state)
            except Exception as exc:  # any unreadable file: fall back, never crash the resume
                why = f"unreadable: {type(exc).__name__}"
            if why is None:
                restore(blob, state)
                if problems:
                    log.warning("%s; resumed from the previous checkpoint %s at step %d",
                                "; ".join(problems), path.name, state.step)
                return state.step
            problems.append(f"checkpoint {path} is {why}" if why.startswith("unreadable")
                            else f"checkpoint {path} is incomplete ({why})")
            path.unlink(missing_ok=True)
        if problems:
            log.warning("%s; no usable checkpoint is left, so the run starts over from step 0",
                        "; ".join(problems))
        return None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        self.previous.unlink(missing_ok=True)


def _problem(blob: Any, state: Any) -> Optional[str]:
    """Why `blob` cannot be restored into `state` (None: it can), checked before anything is
    changed, so a rejected checkpoint leaves the freshly initialised state untouched."""
    if not isinstance(blob, dict):
        return "not a dabench checkpoint"
    missing = [k for k in REQUIRED if k not in blob]
    if missing:
        return f"lacks {', '.join(missing)}"
    net = state.method.net.state_dict()
    theirs = blob["net"]
    if not isinstance(theirs, dict) or set(theirs) != set(net) or any(
            getattr(theirs[k], "shape", None) != v.shape for k, v in net.items()):
        return "its network does not match this run's"
    if not isinstance(blob["streams"], list) or len(blob["streams"]) != len(state.streams):
        return "its data positions do not match this run's"
    if not isinstance(blob["optimizer"], dict) or not {"state", "param_groups"} <= set(
            blob["optimizer"]):
        return "its optimizer state is damaged"
    saved = blob.get("optimizers")
    mine = getattr(state.method, "optimizers", {"main": None})
    if saved is None and len(mine) > 1:
        return "lacks optimizers"
    if saved is not None and (not isinstance(saved, dict) or set(saved) != set(mine)):
        return "its optimizers do not match this run's"
    return None


class StopAtBoundary(KeyboardInterrupt):
    """Raised by the loop between two steps after a first Ctrl-C: the state is consistent."""


class Interrupts:
    """First Ctrl-C: finish the current step, checkpoint, exit 130. Second: stop at once.

    SIGTERM (`kill`, `scancel`, Slurm's preemption and time limit, the `--emit-sbatch` script's
    requeue trap) is treated as a Ctrl-C, so a run stopped that way resumes from the step it
    reached, not from its last evaluation.

    A second Ctrl-C never leaves a mixed state on disk: it interrupts a step (whose state is then
    not saved: the last checkpoint, written at a step boundary, stays), but a checkpoint being
    written inside `critical()` is finished first and the interrupt raised right after.
    """

    def __init__(self) -> None:
        self.requested = False
        self._count = 0
        self._depth = 0  # > 0 inside critical()
        self._pending = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "Interrupts":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True
        self._count += 1
        if self._count > 1:
            if self._depth:
                self._pending = True
            else:
                raise KeyboardInterrupt

    @contextmanager
    def critical(self) -> Iterator[None]:
        """A section a second Ctrl-C does not cut short (it is raised at its end instead)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if not self._depth and self._pending:
            self._pending = False
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        import signal

        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous = {}


def restore(saved: dict, state: Any) -> None:
    state.method.load_state(saved)
    for stream, pos in zip(state.streams, saved["streams"]):
        stream.restore(pos)
    rng = saved["rng"]
    torch.set_rng_state(rng["torch"])
    np.random.set_state(("MT19937", rng["numpy"].numpy().astype(np.uint32), *rng["numpy_rest"]))
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))
    loop = saved["loop"]
    state.step, state.best, state.last_eval = saved["step"], loop["best"], loop["last_eval"]
    state.elapsed, state.sums = loop["elapsed"], loop["sums"] or None
    state.val_best, state.val_weights = loop.get("val_best"), loop.get("val_weights")
    state.since_val_best = loop.get("since_val_best", 0)


def rng_state() -> dict[str, Any]:
    """RNG states as tensors and plain lists, so the checkpoint loads with weights_only=True."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, py_gauss = random.getstate()
    return {"torch": torch.get_rng_state(), "numpy": torch.from_numpy(keys.astype(np.int64)),
            "numpy_rest": [int(pos), int(has_gauss), float(gauss)],
            "python": [version, list(internal), py_gauss]}
