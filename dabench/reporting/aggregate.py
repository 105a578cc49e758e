"""The report: pure functions from run records to tables (rendering lives in `render.py`).

Three views, each a `Table`:
- `runs_view`: one row per (task, model, config without the seed): mean ± sample std over seeds
  of the selected accuracy, with the task's published value and Δ.
- `board_view`: exactly the public leaderboard's rows (task files' `leaderboard:` entries), each
  the mean over its tasks of the matching runs, with footnotes for mislabelled rows and for
  published values that cannot be k/N on their test set.
- `suite_view`: per dataset family, tasks as columns plus Avg, models as rows, published
  references as extra rows; a missing cell shows "—" and blanks the Avg.
Nothing here trains, and nothing here imports torch. One module past ~300 lines on purpose:
the three views share the grouping, the statistics and the published-value matching, and the
golden report files pin their output together.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Optional

from dabench.analysis.selection import RULES, select as select_runs
from dabench.config import group_key
from dabench.methods import method_order, method_role
from dabench.reporting.published import board_runs, board_selection, selection_note, selection_of
from dabench.reporting.labels import (data_marks, model_label, non_default_settings,
                                      not_as_published, with_settings)

# rule -> (the record field reported, the caption's words); the rules: analysis/selection.py
SELECTIONS = {name: (rule.value, rule.caption) for name, rule in RULES.items()}
VIEWS = ("auto", "leaderboard", "suite", "runs", "selection")
FOOTER = ("n = seeds; ± = sample standard deviation over the n seeds (— for n = 1); "
          "Δ = Value − Published.")


@dataclass
class Row:
    task: str  # the leaderboard's task column, e.g. "Domain Adaptation"
    dataset: str  # the leaderboard's dataset column, e.g. "MNIST-to-MNIST-M"
    metric: str
    value: Optional[float]  # mean over seeds, in % (None: no runs yet)
    model: str
    n: int
    std: Optional[float]  # sample std over seeds (None for n < 2)
    published: Optional[float] = None
    delta: Optional[float] = None
    published_source: str = ""
    published_selection: str = ""  # how the paper chose the reported model (task file)
    benchmark: str = ""  # dabench's task name(s)
    method: str = ""
    recipe: str = ""
    seeds: list[int] = field(default_factory=list)
    pad: Optional[float] = None  # mean proxy A-distance over the runs
    note: str = ""  # footnote text
    run_dirs: list[str] = field(default_factory=list)  # the run folders behind the row (HTML links)


@dataclass
class Table:
    """What a renderer needs: a title, column names, string cells, notes, and plain records."""

    title: str
    columns: list[str]
    cells: list[list[str]]
    notes: list[str]
    records: list[dict[str, Any]]  # for JSON / CSV
    row_runs: list[list[str]] = field(default_factory=list)  # per row of cells: its run folders


def config_group(config: dict[str, Any]) -> str:
    """A run's group without its seed (dabench.config.group_key, the grouping selection uses
    too): runs that differ only by seed or by execution keys share it."""
    return group_key(config, leave_out=("seed",))[:6]


def title(select: str, view: str = "runs") -> str:
    what = {"runs": "Target accuracy (%)", "leaderboard": "Leaderboard rows, target accuracy (%)",
            "suite": "Target accuracy (%) per task"}[view]
    return f"{what}, model selection: {SELECTIONS[select][1]}"


def _stats(values: list[float]) -> tuple[Optional[float], Optional[float]]:
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def _by_config_group(records: list[dict]) -> dict[tuple[str, str, str], list[dict]]:
    """(task, model, config group) -> records sorted by seed."""
    out: dict[tuple[str, str, str], list[dict]] = {}
    for rec in sorted(records, key=lambda r: r["seed"]):
        group = config_group(rec["config"]) + ("-regenerated" if rec.get("data_regenerated") else "")
        out.setdefault((rec["task"], rec["model"], group), []).append(rec)
    return out


def _dirs(recs) -> list[str]:
    return [r["run_dir"] for r in recs if r.get("run_dir")]


def _pad(recs: list[dict]) -> Optional[float]:
    pads = [r["pad"] for r in recs if r.get("pad") is not None]
    return statistics.fmean(pads) if pads else None


# -- the runs view ------------------------------------------------------------------------------

def aggregate(records: list[dict[str, Any]], catalog=None, select: str = "last") -> list[Row]:
    """Finished run records -> one row per (task, model, config group), mean ± std over seeds.

    Blended multi-target runs also get a row with the mean of the per-sub-target accuracies."""
    key = SELECTIONS[select][0]
    groups = _by_config_group(records)
    changes = {g: sorted({m for r in recs for m in data_marks(r)}) +  # marks first: shown
               non_default_settings(catalog, recs[0]) for g, recs in groups.items()}
    count: dict[tuple[str, str], int] = {}  # groups per (task, model) not told apart by changes
    for (task, model, group), changed in changes.items():
        if not changed:
            count[(task, model)] = count.get((task, model), 0) + 1
    rows = []
    for (task, model, group), recs in groups.items():
        first, changed = recs[0], changes[(task, model, group)]  # e.g. ["steps=20"]
        label = with_settings(model, changed) if changed else \
            model if count[(task, model)] == 1 else f"{model} #{group}"
        metrics = [("Accuracy (%)", [100.0 * r[key] for r in recs])]
        groups_key = key.replace("target_acc", "target_groups")
        if all(groups_key in r for r in recs):
            metrics.append(("Accuracy (%), mean of sub-targets",
                            [100.0 * r[groups_key]["mean_of_targets"] for r in recs]))
        for metric, values in metrics:
            mean, std = _stats(values)
            pub = _published(catalog, first) if metric == "Accuracy (%)" else None
            rows.append(Row(
                task=_board_task(catalog, task), dataset=first.get("title", task), metric=metric,
                value=mean, model=label, n=len(values), std=std,
                published=pub.value if pub else None,
                delta=mean - pub.value if pub and not changed else None,  # no Δ for other
                published_source=pub.source if pub else "",  # settings than the task's own
                published_selection=selection_of(pub),
                benchmark=task, method=first["method"], recipe=first.get("recipe", ""),
                seeds=[r["seed"] for r in recs], pad=_pad(recs), run_dirs=_dirs(recs)))
    order = {name: i for i, name in enumerate(catalog.tasks)} if catalog is not None else {}
    rows.sort(key=lambda r: (order.get(r.benchmark, len(order)), r.benchmark,
                             method_order(r.method), r.model, r.metric))
    return rows


def _published(catalog, record: dict[str, Any]):
    if catalog is None or record["task"] not in catalog.tasks or record.get("data_regenerated"):
        return None  # a regenerated dataset is never compared as if it were the original
    refs = catalog.tasks[record["task"]].published_for(record["method"], record["config"])
    return refs[0] if refs else None


def _board_task(catalog, task: str) -> str:
    if catalog is not None and task in catalog.tasks:
        return catalog.tasks[task].leaderboard_task
    return "Domain Adaptation"


def gap_notes(rows: list[Row]) -> list[str]:
    """Per task with lower- and upper-reference rows (source-only, target-only): the share of
    the gap between them that each adapting method closes, beside the same share from
    published values."""
    notes = []
    by_task: dict[str, dict[str, Row]] = {}
    for r in rows:
        if r.metric == "Accuracy (%)":
            by_task.setdefault(r.benchmark, {}).setdefault(r.method, r)
    for m in by_task.values():
        refs = {method_role(name): row for name, row in m.items()}
        if not {"lower", "upper"} <= set(refs):
            continue
        lo, hi = refs["lower"], refs["upper"]
        for mid in (row for name, row in m.items() if method_role(name) is None):
            note = _gap_note(lo, mid, hi)
            if note:
                notes.append(note)
    return notes


def _gap_note(lo: Row, mid: Row, hi: Row) -> str:
    """'<dataset>: <model> closes N% of the source-only -> target-only gap (published: M%).'"""
    if hi.value == lo.value:
        return ""
    share = 100 * (mid.value - lo.value) / (hi.value - lo.value)
    text = f"{mid.dataset}: {mid.model} closes {share:.0f}% of the source-only -> target-only gap"
    if None not in (lo.published, mid.published, hi.published) and hi.published != lo.published:
        paper = 100 * (mid.published - lo.published) / (hi.published - lo.published)
        text += f" (published: {paper:.0f}%)"
    return text + "."


def runs_view(records: list[dict], catalog, select: str, notes: list[str] = ()) -> Table:
    rows = aggregate(records, catalog, select)
    cells = [[r.task, r.dataset, r.metric, fmt(r.value), r.model, str(r.n), fmt(r.std),
              fmt(r.published), r.published_selection or "—", fmt(r.delta, signed=True)]
             for r in rows]
    honest = selection_note([r.published_selection for r in rows], select, SELECTIONS[select][1])
    return Table(title(select), ["Task", "Dataset", "Metric", "Value", "Model", "n", "±",
                                 "Published", "Selected by", "Δ"], cells,
                 [FOOTER, *honest, *gap_notes(rows), *notes], [_plain(r, select) for r in rows],
                 [r.run_dirs for r in rows])


def fmt(value: Optional[float], signed: bool = False) -> str:
    if value is None or value != value:  # None or NaN
        return "—"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def _plain(row: Row, select: str) -> dict[str, Any]:
    """A row as a plain dict for JSON/CSV, floats rounded to 4 decimals (stable output)."""
    out = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.__dict__.items()
           if k != "run_dirs"}
    return {**out, "selection": select}


# -- the leaderboard view -----------------------------------------------------------------------

def is_k_over_n(percent: float, n: int, decimals: int = 2) -> bool:
    """Whether `percent` (as printed with `decimals`) equals 100 k / n for some integer k."""
    k = round(percent * n / 100)
    return any(0 <= j <= n and round(100 * j / n, decimals) == round(percent, decimals)
               for j in (k - 1, k, k + 1))


def board_rows(records: list[dict], catalog, select: str) -> list[Row]:
    """One row per leaderboard entry: per seed, the mean over the row's tasks; then mean ± std."""
    key = SELECTIONS[select][0]
    rows = []
    for b in catalog.board:
        chosen, left_out = board_runs(records, b, config_group,  # one recipe, never a mix
                                      own=lambda r: not not_as_published(catalog, r))
        per_task = [{r["seed"]: r for r in runs} for runs in chosen]
        changed = sorted({c for runs in chosen for r in runs[:1] for c in
                          non_default_settings(catalog, r)} |
                         {m for runs in chosen for r in runs for m in data_marks(r)})
        seeds = sorted(set.intersection(*(set(p) for p in per_task))) if per_task else []
        values = [statistics.fmean(100.0 * p[s][key] for p in per_task) for s in seeds]
        mean, std = _stats(values)
        notes = [b.note] if b.note else []
        if changed and seeds:  # not the published recipe: say so beside the published value
            notes.append(f"these runs use other settings than the task's own "
                         f"({', '.join(changed[:3])}{', …' if len(changed) > 3 else ''})")
        if b.test_size and not is_k_over_n(b.value, b.test_size):
            notes.append(f"the published {b.value:.2f} is not k/{b.test_size} for any integer k "
                         "(arithmetically impossible on this test set)")
        if left_out:
            notes.append(left_out)
        rows.append(Row(
            task=b.task, dataset=b.dataset, metric=b.metric, value=mean, model=b.model,
            n=len(seeds), std=std, published=b.value,
            delta=None if mean is None or changed else mean - b.value, published_source=b.source,
            published_selection=board_selection(catalog, b),
            benchmark=" ".join(b.tasks), method=b.method, seeds=seeds,
            pad=_pad([p[s] for p in per_task for s in seeds]), note="; ".join(notes),
            run_dirs=_dirs([p[s] for p in per_task for s in seeds])))
    return rows


def board_view(records: list[dict], catalog, select: str, notes: list[str] = ()) -> Table:
    rows = board_rows(records, catalog, select)
    marks: list[str] = []
    cells = []
    for r in rows:
        dataset = r.dataset
        if r.note:
            marks.append(f"[{len(marks) + 1}] {r.dataset}: {r.note}")
            dataset += f" [{len(marks)}]"
        cells.append([r.task, dataset, r.metric, fmt(r.value), r.model, str(r.n), fmt(r.std),
                      fmt(r.published), r.published_selection, fmt(r.delta, signed=True)])
    honest = selection_note([r.published_selection for r in rows], select, SELECTIONS[select][1])
    return Table(title(select, "leaderboard"), ["Task", "Dataset", "Metric", "Value", "Model",
                                                "n", "±", "Published", "Selected by", "Δ"],
                 cells, [FOOTER, *honest, *marks, *notes], [_plain(r, select) for r in rows],
                 [r.run_dirs for r in rows])


# -- the suite view -----------------------------------------------------------------------------

def _cell(values: list[float]) -> str:
    mean, std = _stats(values)
    return fmt(mean) + (f" ± {std:.2f}" if std is not None else "")


def suite_view(records: list[dict], catalog, select: str, notes: list[str] = ()) -> list[Table]:
    """One table per dataset family with runs: a column per task plus Avg and PAD, a row per
    model, and the family's published references as extra rows."""
    key = SELECTIONS[select][0]
    families = list(dict.fromkeys(catalog.tasks[r["task"]].family for r in records
                                  if r["task"] in catalog.tasks))
    tables = []
    for family in families:
        tasks = [t for t in catalog.tasks.values() if t.family == family]
        names = {t.name for t in tasks}
        cells, plain, row_runs = [], [], []
        ordered = sorted((r for r in records if r["task"] in names),
                         key=lambda r: (method_order(r["method"]), r["model"]))
        for model in dict.fromkeys(r["model"] for r in ordered):
            per = [[100.0 * r[key] for r in records if r["task"] == t.name and r["model"] == model]
                   for t in tasks]
            avg = statistics.fmean(statistics.fmean(v) for v in per) if all(per) else None
            pad = _pad([r for r in records if r["model"] == model and r["task"] in names])
            cells.append([model, *[_cell(v) for v in per], fmt(avg), fmt(pad)])
            row_runs.append(_dirs(r for r in ordered if r["model"] == model))
            plain.append({"family": family, "model": model, "avg": avg, "pad": pad,
                          "selection": select, **{t.name: _stats(v)[0] for t, v in zip(tasks, per)}})
        for label, values in _published_rows(tasks):
            avg = statistics.fmean(values) if None not in values else None
            cells.append([label, *[fmt(v) for v in values], fmt(avg), "—"])
            row_runs.append([])
            plain.append({"family": family, "model": label, "avg": avg, "pad": None,
                          "selection": select, **{t.name: v for t, v in zip(tasks, values)}})
        tables.append(Table(
            f"{family}: {title(select, 'suite')}", ["Model", *[t.title for t in tasks], "Avg", "PAD"],
            cells, ["Cells: mean ± sample std over seeds; Avg: mean over the tasks (— if any is "
                    "missing); PAD: proxy A-distance of the final features.", *notes], plain,
            row_runs))
    return tables


def _published_rows(tasks) -> list[tuple[str, list[Optional[float]]]]:
    """Reference rows: one per (reference, method, variant) published for the family."""
    keys: dict[tuple, None] = {}
    for t in tasks:
        for p in t.published:
            keys.setdefault((p.reference, p.method, tuple(sorted(p.when.items()))), None)
    rows = []
    for reference, method, when in keys:
        values = []
        for t in tasks:
            match = [p.value for p in t.published if p.reference == reference
                     and p.method == method and tuple(sorted(p.when.items())) == when]
            values.append(match[0] if match else None)
        rows.append((f"{model_label(method, dict(when))} — published ({reference})", values))
    return rows


def resolve_view(records: list[dict], catalog, select: str, view: str) -> str:
    """`view`, with "auto" made "leaderboard" when any leaderboard row has runs, else "runs"."""
    if view != "auto":
        return view
    return "leaderboard" if any(r.n for r in board_rows(records, catalog, select)) else "runs"


def validation_note(records: list[dict]) -> list[str]:
    """A caption line when some values are accuracies on a labelled target validation split
    (`--set target_val=...`, for screening), not on the target test set."""
    n = sum(r.get("target_eval") == "val" for r in records)
    if not n:
        return []
    return [f"{n} run(s) set target_val: their values are accuracies on a labelled validation "
            "split held out of the target's training data (for screening settings), not on the "
            "target test set; they are not comparable with the published test values (no Δ)."]


def regenerated_note(records: list[dict]) -> list[str]:
    """A caption line when some runs read a regenerated dataset (`dabench data build`)."""
    n = sum(bool(r.get("data_regenerated")) for r in records)
    if not n:
        return []
    names = sorted({d.get("dataset", "?") for r in records for d in r.get("data_regenerated") or []})
    return [f"{n} run(s) read a regenerated {', '.join(names)} (dabench data build), not the "
            "original: no published value or Δ is shown for them."]


def build(records: list[dict], catalog, select: str = "last", view: str = "auto",
          notes: list[str] = ()) -> list[Table]:
    """The report tables for `view`; "auto" is the leaderboard when any of its rows has runs.
    The selection rule first picks one configuration per (task, method, seed) of a sweep;
    the "selection" view measures every rule instead (reporting/selection_view.py)."""
    if view == "selection":
        from dabench.reporting.selection_view import selection_table

        return [Table(**selection_table(records, catalog, [*validation_note(records), *notes]))]
    records, picked = select_runs(records, select)
    notes = [*picked, *validation_note(records), *regenerated_note(records), *notes]
    view = resolve_view(records, catalog, select, view)
    if view == "suite":
        return suite_view(records, catalog, select, list(notes))
    make = board_view if view == "leaderboard" else runs_view
    return [make(records, catalog, select, list(notes))]
