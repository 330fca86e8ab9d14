// The grid: one row per task, one column per run (oldest left), built as one HTML string so
// that thousands of tasks render in one go; clicks are handled by delegation.
import { esc, stateClass, taskUrl } from "./common.js";

export function renderGrid(element, grid, selectedRunId) {
  const runs = [...grid.runs].reverse();
  const last = grid.runs.length - 1;
  const head = runs
    .map(
      (run, c) =>
        `<th class="run-head${run.run_id === selectedRunId ? " selected" : ""}" data-c="${c}" title="${esc(
          `${run.run_id}: ${run.state}`,
        )}"><span class="bar ${stateClass(run.state)}"></span></th>`,
    )
    .join("");
  const body = [];
  grid.tasks.forEach((task, t) => {
    const depth = task.group ? task.group.split(".").length : 0;
    let cells = "";
    for (let c = 0; c < runs.length; c += 1) {
      const state = grid.states[last - c][t];
      cells += `<td class="cell ${stateClass(state)}" data-c="${c}" data-t="${t}"></td>`;
    }
    body.push(
      `<tr data-task-id="${esc(task.task_id)}"><th class="task d${Math.min(depth, 6)}" title="${esc(
        task.operator,
      )}">${esc(task.task_id)}${task.is_mapped ? " [ ]" : ""}</th>${cells}</tr>`,
    );
  });
  element.innerHTML = runs.length
    ? `<table class="grid"><thead><tr><th></th>${head}</tr></thead><tbody>${body.join("")}</tbody></table>`
    : '<p class="muted">No runs yet: trigger one.</p>';
  return runs;
}

/** Wire clicks once: a cell opens its try page; a run header selects that run. */
export function onGridClick(element, getState, selectRun) {
  element.addEventListener("click", (event) => {
    const target = event.target.closest("td.cell, th.run-head");
    if (!target) return;
    const { grid, runs, dagId } = getState();
    const run = runs[Number(target.dataset.c)];
    if (target.tagName === "TH") {
      selectRun(run.run_id);
      return;
    }
    const t = Number(target.dataset.t);
    const task = grid.tasks[t];
    const tries = grid.tries[grid.runs.length - 1 - Number(target.dataset.c)][t];
    location.assign(taskUrl(dagId, run.run_id, task.task_id, -1, tries || null));
  });
  element.addEventListener("mouseover", (event) => {
    const cell = event.target.closest("td.cell");
    if (!cell || cell.title) return;
    const { grid, runs } = getState();
    const run = runs[Number(cell.dataset.c)];
    const task = grid.tasks[Number(cell.dataset.t)];
    const state = grid.states[grid.runs.length - 1 - Number(cell.dataset.c)][Number(cell.dataset.t)];
    cell.title = `${task.task_id} · ${run.run_id} · ${state || "no state"}`;
  });
}
