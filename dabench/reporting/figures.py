"""Figures for the HTML report as data: URIs (the page needs no other file), drawn by
`dabench.reporting.plots` from the run folders.

    curves_figure(run_dirs)   training curves of a task's runs (those with metrics lines)
    tsne_figures(records)     per adapted model of a task: t-SNE before (the source-only run of the
                              same seed) and after adaptation, with both runs' proxy A-distance

A damaged file does not stop the page: the figure becomes a `Figure` with an `error` instead.
"""

from __future__ import annotations

import base64
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from dabench.errors import DabenchError
from dabench.reporting import plots
from dabench.runs.store import read_jsonl

TSNE_POINTS = 300  # items per domain in a report's t-SNE (plot features defaults to 500)
MAX_CURVES = 12  # runs per curves figure (a sweep can have dozens; colours repeat after 10)


@dataclass
class Figure:
    title: str
    uri: str = ""  # data:image/png;base64,...
    error: str = ""  # why there is no image
    caption: str = ""
    runs: list[str] = field(default_factory=list)  # the run folders drawn


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _draw(draw, *args: Any, **kwargs: Any) -> str:
    """Run a plots.* function into a temporary PNG and return it as a data: URI."""
    with tempfile.TemporaryDirectory(prefix="dabench-report-") as tmp:
        out = Path(tmp) / "figure.png"
        draw(*args, out=out, **kwargs)
        return png_uri(out.read_bytes())


def curves_figure(run_dirs: Sequence[str]) -> Optional[Figure]:
    """The curves of the runs that logged metrics (the first MAX_CURVES in the given order);
    None when none did."""
    logged = [d for d in run_dirs if read_jsonl(Path(d) / "metrics.jsonl")]
    if not logged:
        return None
    fig = Figure("Training curves: target (solid) and source (dashed) accuracy, losses, λ, lr",
                 runs=logged[:MAX_CURVES])
    if len(logged) > MAX_CURVES:
        fig.caption = f"{MAX_CURVES} of the {len(logged)} runs with curves are drawn."
    logged = logged[:MAX_CURVES]
    try:
        fig.uri = _draw(plots.plot_curves, logged)
    except DabenchError as exc:
        fig.error = str(exc)
    return fig


def _pad_text(record: Optional[dict[str, Any]]) -> str:
    pad = record.get("pad") if record else None
    return f"{pad:.3f}" if isinstance(pad, (int, float)) else "—"


def tsne_figures(records: Sequence[dict[str, Any]], by_dir: dict[str, dict[str, Any]]
                 ) -> list[Figure]:
    """One figure per adapted model of a task: its lowest seed with features.npz, beside the
    source-only run of the same seed (found as `plot features --before auto` finds it)."""
    chosen: dict[str, dict[str, Any]] = {}
    for rec in sorted(records, key=lambda r: (r.get("seed", 0), r.get("run_dir", ""))):
        if rec.get("method") in (plots.SOURCE_ONLY, "target-only") or not rec.get("run_dir"):
            continue
        if (Path(rec["run_dir"]) / "features.npz").is_file():
            chosen.setdefault(str(rec.get("model")), rec)
    figures = []
    for model, rec in chosen.items():
        run = rec["run_dir"]
        fig = Figure(f"t-SNE of the features: {model}, seed {rec.get('seed')}", runs=[run])
        try:
            before = plots.find_before(run)
            if before is not None:
                fig.runs.insert(0, str(before))
            fig.uri = _draw(plots.plot_features, run, before=before, max_points=TSNE_POINTS)
        except DabenchError as exc:
            fig.error = str(exc)
            before = None
        after_pad = _pad_text(rec)
        if before is not None:
            before_pad = _pad_text(by_dir.get(str(before)))
            fig.caption = (f"Proxy A-distance (0 = domains indistinguishable, 2 = separable): "
                           f"before adaptation {before_pad}, after {after_pad}.")
        else:
            fig.caption = (f"Proxy A-distance after adaptation: {after_pad} (no source-only run "
                           "of this seed with features, so no 'before' panel).")
        figures.append(fig)
    return figures
