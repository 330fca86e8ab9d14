// The grid: one row per task, one column per run (oldest left). Rows are built as one HTML
// string; a big DAG only gets the rows in view (plus a margin) and two spacer rows, redrawn
// on scroll, so 10,000 tasks × 25 runs stays quick. Clicks are handled by delegation.
import { esc, stateClass, taskUrl } from "./common.js";

const WINDOW_FROM = 300; // rows: render all of a smaller DAG
const MARGIN = 30; // rows drawn above and below the visible ones
const data = new WeakMap();

function rowHtml(grid, runs, t) {
  const task = grid.tasks[t];
  const last = grid.runs.length - 1;
  const depth = task.group ? task.group.split(".").length : 0;
  let cells = "";
  for (let c = 0; c < runs.length; c += 1) {
    cells += `<td class="cell ${stateClass(grid.states[last - c][t])}" data-c="${c}" data-t="${t}"></td>`;
  }
  return `<tr data-task-id="${esc(task.task_id)}"><th class="task d${Math.min(depth, 6)}" title="${esc(
    task.operator,
  )}">${esc(task.task_id)}${task.is_mapped ? " [ ]" : ""}</th>${cells}</tr>`;
}

function draw(element) {
  const { grid, runs, selectedRunId, rowHeight } = data.get(element);
  const total = grid.tasks.length;
  let first = 0;
  let end = total;
  if (total > WINDOW_FROM) {
    first = Math.max(0, Math.floor(element.scrollTop / rowHeight) - MARGIN);
    end = Math.min(total, first + Math.ceil((element.clientHeight || 900) / rowHeight) + 2 * MARGIN);
  }
  const head = runs
    .map(
      (run, c) =>
        `<th class="run-head${run.run_id === selectedRunId ? " selected" : ""}" data-c="${c}" title="${esc(
          `${run.run_id}: ${run.state}`,
        )}"><span class="bar ${stateClass(run.state)}"></span></th>`,
    )
    .join("");
  const rows = [];
  for (let t = first; t < end; t += 1) rows.push(rowHtml(grid, runs, t));
  const pad = (where) => `<tr class="pad" data-pad="${where}"><td colspan="${runs.length + 1}"></td></tr>`;
  const scrollTop = element.scrollTop;
  element.innerHTML = `<table class="grid"><thead><tr><th></th>${head}</tr></thead><tbody>${pad(
    "top",
  )}${rows.join("")}${pad("bottom")}</tbody></table>`;
  // Spacers keep the scroll height of the whole grid (set through the CSSOM: the CSP allows
  // no inline style attributes).
  element.querySelector('[data-pad="top"] td').style.height = `${first * rowHeight}px`;
  element.querySelector('[data-pad="bottom"] td').style.height = `${(total - end) * rowHeight}px`;
  element.scrollTop = scrollTop;
}

export function renderGrid(element, grid, selectedRunId) {
  const runs = [...grid.runs].reverse();
  if (!runs.length) {
    data.delete(element);
    element.innerHTML = '<p class="muted">No runs yet: trigger one.</p>';
    return runs;
  }
  const known = data.get(element);
  data.set(element, { grid, runs, selectedRunId, rowHeight: known?.rowHeight ?? 18 });
  if (!known) {
    element.addEventListener("scroll", () => {
      if (data.get(element)?.grid.tasks.length > WINDOW_FROM) requestAnimationFrame(() => draw(element));
    });
  }
  draw(element);
  if (!known) {
    // Measure a row once (the spacers need its height), then draw with it.
    const rows = element.querySelectorAll("tr[data-task-id]");
    if (rows.length > 1) {
      data.get(element).rowHeight = rows[1].offsetTop - rows[0].offsetTop || 18;
      if (grid.tasks.length > WINDOW_FROM) draw(element);
    }
  }
  return runs;
}

/** Wire clicks once: a cell opens its try page; a run's header selects that run. */
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
    const tries = grid.tries[grid.runs.length - 1 - Number(target.dataset.c)][t];
    location.assign(taskUrl(dagId, run.run_id, grid.tasks[t].task_id, -1, tries || null));
  });
  element.addEventListener("mouseover", (event) => {
    const cell = event.target.closest("td.cell");
    if (!cell || cell.title) return;
    const { grid, runs } = getState();
    const c = Number(cell.dataset.c);
    const t = Number(cell.dataset.t);
    const state = grid.states[grid.runs.length - 1 - c][t];
    cell.title = `${grid.tasks[t].task_id} · ${runs[c].run_id} · ${state || "no state"}`;
  });
}
