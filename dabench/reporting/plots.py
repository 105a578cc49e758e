"""Figures from finished run folders: training curves and t-SNE of the adapted features.

    plot_curves([run, ...], out)           accuracy, losses, lambda and lr against the step
    plot_features(run, out, before=other)  t-SNE of source (blue) vs target (red) features, as in
                                           the DANN paper's figure: "before" vs "after" adaptation
    find_before(run)                       the finished source-only run of the same task and seed

Only the run folder's files are read (config.json, metrics.jsonl, result.json, features.npz);
nothing here imports torch. matplotlib, numpy and scikit-learn are imported inside the functions,
so importing this module is cheap. Figures are drawn on matplotlib's Agg canvas without pyplot
(no global backend switch, no GUI) and written atomically (`dabench.atomic`). One module past
~300 lines on purpose: both figures read run folders the same way (`load_run`), draw on the same
canvas and are saved by the same `_save`; `report --format html` embeds both.
"""

from __future__ import annotations

import json
import textwrap
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from dabench.atomic import atomic_file
from dabench.errors import DabenchError
from dabench.extras import import_extra
from dabench.runs.store import is_done, read_jsonl

SOURCE_ONLY = "source-only"
SOURCE_COLOR = "tab:blue"  # the DANN paper's figure: blue = source, red = target
TARGET_COLOR = "tab:red"
DPI = 100
CURVES_SIZE = (12.0, 8.0)  # inches; 1200 x 800 pixels at DPI
FEATURES_PANEL = 6.0  # inches per (square) t-SNE panel
EXACT_TSNE_MAX = 1000  # points; above this, Barnes-Hut t-SNE (O(N log N) instead of O(N^2))
IMAGE_TYPES = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
_FEATURE_KEYS = ("source_features", "source_labels", "target_features", "target_labels")
_RERUN_FEATURES = "rerun it with --set proxy_a_distance_items=1000 --force (features need " \
                  "proxy_a_distance_items > 0)"


@dataclass
class Run:
    """What the plots need from one finished run folder."""

    path: Path
    task: str
    method: str
    seed: int
    model: str
    title: str
    config: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.task} {self.model} seed {self.seed}"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DabenchError(f"cannot read {path} ({exc}); the run folder is damaged: rerun it "
                           "with --force") from None


def load_run(run_dir: Path | str) -> Run:
    """The run in `run_dir`, or a DabenchError saying why it cannot be plotted."""
    path = Path(run_dir)
    if not path.is_dir() or not (path / "config.json").is_file():
        what = "does not exist" if not path.exists() else "has no config.json"
        raise DabenchError(f"{path} is not a run folder ({what}); pass run folders such as "
                           "runs/<task>/<method>/<run-id>")
    if not is_done(path):
        if (path / "failed.json").is_file():
            raise DabenchError(f"run {path} failed (see its failed.json); rerun it with --force, "
                               "then plot it")
        raise DabenchError(f"run {path} is unfinished (no done marker); let it finish, or resume "
                           "it with the same `dabench run` command, then plot it")
    cfg = _read_json(path / "config.json")
    result = _read_json(path / "result.json")
    if not isinstance(cfg, dict) or not isinstance(result, dict):
        raise DabenchError(f"{path} is not a run folder (config.json or result.json is not a "
                           "JSON object); rerun it with --force")
    method = str(cfg.get("method") or result.get("method") or path.parent.name)
    seed = cfg.get("seed", result.get("seed", 0))
    task = str(cfg.get("task") or result.get("task") or path.parent.parent.name)
    return Run(path=path, task=task, method=method,
               seed=int(seed) if isinstance(seed, (int, float)) else 0,
               model=str(result.get("model") or method), title=str(result.get("title") or ""),
               config=cfg.get("config") if isinstance(cfg.get("config"), dict) else {},
               result=result)


def _save(fig: Any, out: Path) -> Path:
    """Write `fig` to `out` atomically; the format follows the suffix (.png, .pdf, .svg)."""
    out = Path(out)
    fmt = IMAGE_TYPES.get(out.suffix.lower())
    if fmt is None:
        raise DabenchError(f"cannot write {out}: unknown image type '{out.suffix}'; use an --out "
                           "ending in .png, .pdf or .svg")
    try:
        with atomic_file(out) as fh:
            fig.savefig(fh, format=fmt, dpi=DPI)
    except OSError as exc:
        raise DabenchError(f"cannot write {out} ({exc.strerror}); choose another --out") from None
    return out


def _figure(size: tuple[float, float]) -> Any:
    import_extra("matplotlib", "plots", "drawing plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _unique_labels(runs: Sequence[Run]) -> list[str]:
    """Run labels; runs that would share one get their run id appended."""
    labels = [r.label for r in runs]
    return [f"{lab} ({r.path.name})" if labels.count(lab) > 1 else lab
            for lab, r in zip(labels, runs)]


def _series(lines: list[dict[str, Any]], kind: str, key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for line in lines:
        value = line.get(key)
        if line.get("kind") == kind and isinstance(value, (int, float)) and "step" in line:
            xs.append(float(line["step"]))
            ys.append(float(value))
    return xs, ys


_LOSS_STYLES = ("--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))


def plot_curves(run_dirs: Sequence[Path | str], out: Path | str) -> Path:
    """One figure, one line colour per run: target/source accuracy (eval lines), the classifier
    and every domain_* loss, lambda, and the learning rate against the step. Returns `out`."""
    paths = list(dict.fromkeys(Path(p) for p in run_dirs))
    if not paths:
        raise DabenchError("no runs to plot; pass run folders, e.g. "
                           "`dabench plot curves runs/mnist-to-digits/revgrad/*`")
    runs = [load_run(p) for p in paths]
    metrics = []
    for run in runs:
        lines = read_jsonl(run.path / "metrics.jsonl")
        if not lines:
            raise DabenchError(f"run {run.path} has no lines in metrics.jsonl; rerun it with "
                               "--force")
        metrics.append(lines)

    fig = _figure(CURVES_SIZE)
    (ax_acc, ax_loss), (ax_lam, ax_lr) = fig.subplots(2, 2, sharex=True)
    colours = [f"C{i % 10}" for i in range(len(runs))]
    loss_keys: list[str] = []
    for lines in metrics:
        for line in lines:
            if line.get("kind") == "train":
                loss_keys += [k for k in line if k.startswith("domain_") and k not in loss_keys]
    loss_style = {"cls": "-", **{k: _LOSS_STYLES[i % len(_LOSS_STYLES)]
                                 for i, k in enumerate(sorted(loss_keys))}}

    for run, lines, colour, label in zip(runs, metrics, colours, _unique_labels(runs)):
        ax_acc.plot(*_pct(_series(lines, "eval", "target_acc")), color=colour, marker="o",
                    markersize=3, label=label)
        ax_acc.plot(*_pct(_series(lines, "eval", "source_acc")), color=colour, marker="o",
                    markersize=3, linestyle="--", alpha=0.7)
        for key, style in loss_style.items():
            ax_loss.plot(*_series(lines, "train", key), color=colour, linestyle=style)
        ax_lam.plot(*_series(lines, "train", "lambda"), color=colour)
        ax_lr.plot(*_series(lines, "train", "lr"), color=colour)

    ax_acc.set(title="accuracy (solid: target, dashed: source)", ylabel="accuracy (%)")
    ax_loss.set(title="training losses", ylabel="loss")
    ax_lam.set(title="lambda (gradient reversal weight)", xlabel="step", ylabel="lambda")
    ax_lr.set(title="learning rate", xlabel="step", ylabel="lr")
    _style_legend(ax_loss, loss_style)
    for ax in (ax_acc, ax_loss, ax_lam, ax_lr):
        ax.grid(True, alpha=0.3)
        if not ax.lines or not any(len(line.get_xdata()) for line in ax.lines):
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes,
                    color="grey")
    handles, labels = ax_acc.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(3, max(1, len(labels))),
               fontsize="small", frameon=False)
    return _save(fig, Path(out))


def _pct(xy: tuple[list[float], list[float]]) -> tuple[list[float], list[float]]:
    return xy[0], [100.0 * y for y in xy[1]]


def _style_legend(ax: Any, styles: dict[str, Any]) -> None:
    """A black legend of the line styles (one per loss term), independent of the run colours."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="black", linestyle=style, label=key)
               for key, style in styles.items()]
    ax.legend(handles=handles, fontsize="small", loc="upper right")


# ---------------------------------------------------------------------------- features (t-SNE)


def load_embeddings(run: Run) -> dict[str, Any]:
    """features.npz of a finished run (the embeddings of held-out items that the proxy A-distance
    is computed on) as float32 arrays and labels, checked."""
    import numpy as np

    path = run.path / "features.npz"
    if not path.is_file():
        raise DabenchError(f"run {run.path} has no features.npz; {_RERUN_FEATURES}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _FEATURE_KEYS if k not in npz.files]
            if missing:
                raise DabenchError(f"{path} lacks {', '.join(missing)}; {_RERUN_FEATURES}")
            arrays = {k: np.asarray(npz[k]) for k in _FEATURE_KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DabenchError(f"cannot read {path} ({exc}); {_RERUN_FEATURES}") from None
    for name in ("source", "target"):
        feats = arrays[f"{name}_features"]
        if feats.ndim != 2 or feats.shape[0] == 0:
            raise DabenchError(f"{path}: {name}_features has shape {feats.shape}, expected "
                               f"(items, dims) with items > 0; {_RERUN_FEATURES}")
        if not np.isfinite(feats.astype(np.float32)).all():
            raise DabenchError(f"{path}: {name}_features holds NaN or infinite values (the "
                               "features overflowed or the run diverged); rerun it with --force")
        arrays[f"{name}_features"] = feats.astype(np.float32)
    if arrays["source_features"].shape[1] != arrays["target_features"].shape[1]:
        raise DabenchError(f"{path}: source and target features differ in width "
                           f"({arrays['source_features'].shape[1]} vs "
                           f"{arrays['target_features'].shape[1]}); {_RERUN_FEATURES}")
    return arrays


def _subsample(n: int, k: int, seed: int) -> Any:
    import numpy as np

    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def tsne_perplexity(n: int) -> float:
    """sklearn's default 30, lowered for small sets (it must stay below the number of points)."""
    return float(min(30.0, max(1.0, (n - 1) / 3.0)))


def embed_tsne(features: Any, seed: int = 0) -> Any:
    """2-D t-SNE of (N, D) features, deterministic for a given seed."""
    import numpy as np

    try:
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE
    except ModuleNotFoundError:
        raise DabenchError("plotting features needs scikit-learn; install it: "
                           "pip install scikit-learn") from None
    x = np.asarray(features, dtype=np.float32)
    n = x.shape[0]
    if n < 4:
        raise DabenchError(f"only {n} feature rows; t-SNE needs at least 4: {_RERUN_FEATURES}")
    x = x - x.mean(axis=0, keepdims=True)
    if not np.any(x):  # every item has the same features: nothing to separate
        return np.zeros((n, 2), dtype=np.float32)
    if x.shape[1] > 50 and n > 50:  # the usual PCA step before t-SNE: faster, same picture
        x = PCA(n_components=50, random_state=seed).fit_transform(x)
    # exact gradients up to the default 2 x 500 points: faster than Barnes-Hut there, and exact
    method = "exact" if n <= EXACT_TSNE_MAX else "barnes_hut"
    tsne = TSNE(n_components=2, perplexity=tsne_perplexity(n), init="pca", method=method,
                random_state=seed)
    return tsne.fit_transform(x)


def _features_panel(ax: Any, run: Run, caption: str, seed: int, max_points: int,
                    main: Run) -> None:
    import numpy as np

    arrays = load_embeddings(run)
    src = arrays["source_features"][_subsample(len(arrays["source_features"]), max_points, seed)]
    tgt = arrays["target_features"][_subsample(len(arrays["target_features"]), max_points, seed)]
    xy = embed_tsne(np.concatenate([src, tgt]), seed=seed)
    colours = np.array([SOURCE_COLOR] * len(src) + [TARGET_COLOR] * len(tgt))
    order = np.random.default_rng(seed).permutation(len(xy))  # neither domain always on top
    ax.scatter(xy[order, 0], xy[order, 1], c=colours[order], s=6, alpha=0.6, linewidths=0)
    for colour, text in ((SOURCE_COLOR, f"source ({len(src)})"),
                         (TARGET_COLOR, f"target ({len(tgt)})")):
        ax.scatter([], [], color=colour, s=12, label=text)
    acc = run.result.get("target_acc_last")
    acc_text = f", target acc {100 * acc:.1f}%" if isinstance(acc, (int, float)) else ""
    same = (run.task, run.seed) == (main.task, main.seed)
    other = "" if same else f" ({run.task} seed {run.seed})"
    prefix = f"{caption}: " if caption else ""
    ax.set_title(f"{prefix}{run.model}{other}{acc_text}", fontsize="medium")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="upper right", fontsize="small")


def plot_features(run_dir: Path | str, out: Path | str, before: Path | str | None = None,
                  seed: int = 0, max_points: int = 500) -> Path:
    """t-SNE of the run's source (blue) and target (red) test features; with `before` (e.g. the
    source-only run of the same task and seed) a left panel "before adaptation" is added. At most
    `max_points` items per domain are drawn (a fixed random subset). Returns `out`."""
    if max_points < 2:
        raise DabenchError(f"max_points={max_points} is too small; use at least 2 (default 500)")
    run = load_run(run_dir)
    load_embeddings(run)  # fail on a missing file before any slow work
    prior = load_run(before) if before is not None else None
    if prior is not None:
        load_embeddings(prior)
    panels = [(prior, "before adaptation"), (run, "after adaptation")] if prior else [(run, "")]
    fig = _figure((FEATURES_PANEL * len(panels), FEATURES_PANEL))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (r, caption) in zip(axes, panels):
        _features_panel(ax, r, caption, seed, max_points, main=run)
    name = run.title or run.task
    text = (f"{name} seed {run.seed}: t-SNE of the classifier-input features "
            "(blue: source, red: target)")
    fig.suptitle(textwrap.fill(text, 60 * len(panels)), fontsize="medium")  # fits one panel
    return _save(fig, Path(out))


def find_before(run_dir: Path | str) -> Path | None:
    """A finished source-only run (with features.npz) of the same task and seed in the same runs
    folder: <runs>/<task>/source-only/<id>. Prefers the one whose config differs least from the
    run's (apart from the method), then the most recently finished. None when there is none."""
    run = load_run(run_dir)
    task_dir = run.path.resolve().parent.parent
    best: tuple[tuple[int, float], Path] | None = None
    for cand in sorted((task_dir / SOURCE_ONLY).glob("*")):
        if cand.resolve() == run.path.resolve() or not is_done(cand):
            continue
        if not (cand / "features.npz").is_file():
            continue
        try:
            other = load_run(cand)
        except DabenchError:
            continue
        if other.task != run.task or other.seed != run.seed or other.method != SOURCE_ONLY:
            continue
        diff = sum(1 for k in set(run.config) | set(other.config)
                   if k != "method" and run.config.get(k) != other.config.get(k))
        key = (diff, -(cand / "done").stat().st_mtime)
        if best is None or key < best[0]:
            best = (key, cand)
    return best[1] if best else None
