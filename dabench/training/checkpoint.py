"""Checkpoints of an unfinished run, and Ctrl-C handling around the training loop.

A checkpoint holds the model, optimizer, RNG states of Python/NumPy/torch, the positions of the
batch streams and the loop's bookkeeping; it is written to a temporary name and renamed, and
loaded with `weights_only=True` (tensors and plain containers only).
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

log = logging.getLogger("dabench")


class Checkpoint:
    """checkpoint.pt in the run directory: model, optimizer, RNG states, stream positions."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "checkpoint.pt"
        self.previous = directory / "checkpoint.prev.pt"  # the one before, kept as a fallback

    def save(self, state: Any) -> None:
        blob = {"step": state.step, **state.method.state(), "rng": rng_state(),
                "streams": [s.position() for s in state.streams], "loop": state.loop_state()}
        tmp = self.path.with_suffix(".pt.tmp")
        torch.save(blob, tmp)
        if self.path.exists():
            os.replace(self.path, self.previous)
        os.replace(tmp, self.path)

    def load(self) -> Optional[dict]:
        """The newest readable checkpoint; a corrupt one is reported and the previous one (or a
        fresh start) used instead."""
        for path in (self.path, self.previous):
            if not path.is_file():
                continue
            try:
                blob = torch.load(path, map_location="cpu", weights_only=True)
                if not isinstance(blob, dict) or "step" not in blob:
                    raise ValueError("not a dabench checkpoint")
                return blob
            except Exception as exc:  # any unreadable file: fall back, never crash the resume
                log.warning("checkpoint %s is unreadable (%s); %s", path, type(exc).__name__,
                            "trying the previous one" if path == self.path else
                            "starting the run over")
                path.unlink(missing_ok=True)
        return None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        self.previous.unlink(missing_ok=True)


class Interrupts:
    """First Ctrl-C: finish the current step, checkpoint, exit 130. Second: stop at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> "Interrupts":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        import signal

        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the next one raises at once

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def restore(saved: dict, state: Any) -> None:
    state.method.net.load_state_dict(saved["net"])
    state.method.optimizer.load_state_dict(saved["optimizer"])
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
