"""How each comparison with a published value is made honest: which rule selected the published
number, and which runs a leaderboard row stands on. Pure functions over run records; no torch.

- `selection_of`: the selection rule a published value records (`selection:` in the task file,
  e.g. TA3N's "best epoch on the target test set"), or "not stated".
- `selected_on_target_test`: whether that rule chose the reported model with target test labels.
- `selection_note`: the caption line saying that a label-free view (last evaluation, source-val,
  reverse) is compared with best-of-target-test published numbers.
- `board_runs`: for one leaderboard row, the runs of ONE configuration per task, all of the same
  recipe (never an average over recipes), and a note naming every configuration left out.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

NOT_STATED = "not stated"
_ON_TEST = ("target test", "= test")  # words of the task files' rules that mean test labels


def selection_of(published: Any) -> str:
    return (getattr(published, "selection", "") or NOT_STATED) if published is not None else ""


def selected_on_target_test(selection: str) -> bool:
    return any(words in selection for words in _ON_TEST)


def selection_note(selections: list[str], select: str, caption: str) -> list[str]:
    """One caption line when label-free results sit beside best-of-target-test numbers."""
    if select == "oracle" or not any(selected_on_target_test(s) for s in selections):
        return []
    return [f"Value: {caption}. A published value whose 'Selected by' names the target test set "
            "is that paper's best evaluation on target test labels, an optimistic number; "
            "`--select oracle` gives the like-for-like comparison."]


def board_selection(catalog, row) -> str:
    """The rule of the task-file published values behind a leaderboard row (one if they agree)."""
    rules = set()
    for name in row.tasks:
        task = catalog.tasks.get(name)
        for p in (task.published if task is not None else []):
            if p.method == row.method and all(row.when.get(k) == v for k, v in p.when.items()):
                rules.add(selection_of(p))
    return rules.pop() if len(rules) == 1 else NOT_STATED


def board_runs(records: list[dict], row, group_of: Callable[[dict], str],
               own: Optional[Callable[[dict], bool]] = None) -> tuple[list[list[dict]], str]:
    """(per task of `row`, the runs of its chosen configuration; a note on what was left out).

    The row's recipe is the one every task has runs of (the most runs wins; ties: by name);
    per task, the configuration with the most runs of that recipe. Runs of any other
    configuration are left out, and named in the note."""
    groups: list[dict[str, list[dict]]] = []
    for task in row.tasks:
        found: dict[str, list[dict]] = {}
        for r in records:
            if r["task"] == task and r["method"] == row.method and all(
                    r["config"].get(k) == v for k, v in row.when.items()):
                found.setdefault(group_of(r["config"]), []).append(r)
        groups.append(found)

    def recipe(recs: list[dict]) -> str:
        return recs[0].get("recipe", "")

    shared = set.intersection(*({recipe(g) for g in found.values()} for found in groups)) \
        if groups else set()
    count = {rc: sum(len(g) for found in groups for g in found.values() if recipe(g) == rc)
             for rc in shared}
    chosen_recipe = max(sorted(shared), key=lambda rc: count[rc], default=None)
    chosen, left = [], []
    for task, found in zip(row.tasks, groups):
        mine = [g for g in found.values() if recipe(g) == chosen_recipe]
        # `own(run)`: run has the task's own settings; such a configuration wins over others
        best = max(mine, key=lambda g: (own is None or own(g[0]), len(g))) if mine else []
        chosen.append(best)
        left += [f"{task}: {len(g)} run(s) of recipe {recipe(g) or '?'} "
                 f"(config #{group_of(g[0]['config'])})" for g in found.values() if g is not best]
    note = ""
    if left:
        note = ("left out, so that one recipe and one configuration per task make the row: "
                + "; ".join(left) + (" (no recipe has runs on every task)"
                                     if chosen_recipe is None else ""))
    return chosen, note
