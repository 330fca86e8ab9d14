"""Which tasks a branch or a short-circuit skips."""

from __future__ import annotations

from collections.abc import Collection, Mapping


class BranchError(ValueError):
    """A branch chose a task that is not directly downstream of it."""


def branch_skips(
    downstream: Mapping[str, Collection[str]],
    group_roots: Mapping[str, Collection[str]],
    task_id: str,
    follow: Collection[str],
) -> set[str]:
    """The tasks directly downstream of branch ``task_id`` that were not chosen.

    ``follow`` may name tasks or task groups (a group stands for its root tasks). Choosing
    nothing skips every direct downstream task. As in Airflow, a direct downstream task that is
    also downstream of a chosen task (a join) is not skipped: its trigger rule decides.
    """
    direct = set(downstream.get(task_id, ()))
    chosen: set[str] = set()
    for name in follow:
        if name in direct:
            chosen.add(name)
        elif name in group_roots and set(group_roots[name]) & direct:
            chosen |= set(group_roots[name]) & direct
        else:
            options = ", ".join(sorted(direct)) or "none"
            raise BranchError(
                f"branch task {task_id!r} chose {name!r}, which is not directly downstream of "
                f"it (downstream: {options})"
            )
    return direct - chosen - _descendants(downstream, chosen)


def short_circuit_skips(
    downstream: Mapping[str, Collection[str]], task_id: str, *, all_downstream: bool
) -> set[str]:
    """What a falsy short-circuit skips: every downstream task, or only the direct ones."""
    if not all_downstream:
        return set(downstream.get(task_id, ()))
    return _descendants(downstream, [task_id])


def _descendants(downstream: Mapping[str, Collection[str]], roots: Collection[str]) -> set[str]:
    """Every task downstream of any of ``roots``, transitively (not the roots themselves)."""
    seen: set[str] = set()
    stack = [tid for root in roots for tid in downstream.get(root, ())]
    while stack:
        tid = stack.pop()
        if tid in seen:
            continue
        seen.add(tid)
        stack.extend(downstream.get(tid, ()))
    return seen
