// The DAG page: header (pause, trigger), and the Grid, Graph, Gantt, Runs and Code tabs.
import { clearTasks, markTasks } from "./actions.js";
import {
  api, badge, enc, esc, fmtDate, fmtDuration, isActive, poll, renderPager, showError,
} from "./common.js";
import { renderGantt } from "./gantt.js";
import { renderGraph } from "./graph.js";
import { onGridClick, renderGrid } from "./grid.js";

const dagId = document.getElementById("main").dataset.dagId;
const errorBox = document.getElementById("dag-error");
const params = new URLSearchParams(location.search);
const state = {
  dagId,
  dag: null,
  grid: null,
  gridJson: "",
  runs: [],
  tab: params.get("tab") || "grid",
  runId: params.get("run_id"),
  runsOffset: 0,
};

function remember() {
  const query = new URLSearchParams({ tab: state.tab });
  if (state.runId) query.set("run_id", state.runId);
  history.replaceState(null, "", `?${query}`);
}

function selectedRun() {
  if (!state.grid || !state.grid.runs.length) return null;
  return state.grid.runs.find((r) => r.run_id === state.runId) || state.grid.runs[0];
}

function statesOf(run) {
  if (!run || !state.grid) return null;
  const row = state.grid.states[state.grid.runs.indexOf(run)];
  return new Map(state.grid.tasks.map((t, i) => [t.task_id, row[i]]));
}

// --- header -------------------------------------------------------------------------------
const toggle = document.getElementById("active-toggle");
toggle.addEventListener("change", async () => {
  toggle.disabled = true;
  try {
    await api(`/dags/${enc(dagId)}`, { method: "PATCH", body: { is_paused: !toggle.checked } });
  } catch (error) {
    toggle.checked = !toggle.checked;
    showError(errorBox, error);
  } finally {
    toggle.disabled = false;
  }
});

async function loadDag() {
  state.dag = await api(`/dags/${enc(dagId)}`);
  toggle.checked = !state.dag.is_paused;
  const parts = [
    state.dag.description,
    `schedule: ${state.dag.schedule || "none"}`,
    state.dag.next_dagrun_create_after ? `next run: ${fmtDate(state.dag.next_dagrun_create_after)}` : "",
    state.dag.tags.length ? `tags: ${state.dag.tags.join(", ")}` : "",
  ];
  document.getElementById("dag-meta").textContent = parts.filter(Boolean).join(" · ");
}

// --- run picker (graph and gantt show the selected run) -------------------------------------
const picker = document.getElementById("run-picker");
function renderPicker() {
  const run = selectedRun();
  picker.hidden = !run || !["graph", "gantt"].includes(state.tab);
  if (!run) return;
  picker.innerHTML = `Run <select id="run-select">${state.grid.runs
    .map(
      (r) =>
        `<option value="${esc(r.run_id)}" ${r === run ? "selected" : ""}>${esc(r.run_id)} (${esc(r.state)})</option>`,
    )
    .join("")}</select> ${badge(run.state)}`;
  picker.querySelector("select").addEventListener("change", (e) => selectRun(e.target.value));
}

function selectRun(runId) {
  state.runId = runId;
  remember();
  render();
}

// --- grid, graph, gantt ---------------------------------------------------------------------
const gridElement = document.getElementById("grid");
onGridClick(gridElement, () => state, (runId) => {
  selectRun(runId);
  showTab("graph");
});

async function loadGrid() {
  const grid = await api(`/dags/${enc(dagId)}/grid?limit=25`);
  const json = JSON.stringify(grid);
  if (json !== state.gridJson) {
    state.grid = grid;
    state.gridJson = json;
    render();
  }
  return grid.runs.some((r) => isActive(r.state));
}

async function loadGantt() {
  const run = selectedRun();
  const element = document.getElementById("gantt");
  const actions = document.getElementById("run-actions");
  if (!run) {
    element.innerHTML = '<p class="muted">No runs yet.</p>';
    actions.innerHTML = "";
    return;
  }
  const detail = await api(`/dags/${enc(dagId)}/runs/${enc(run.run_id)}`);
  actions.innerHTML = runActions(run.run_id);
  renderGantt(element, dagId, detail);
}

function render() {
  renderPicker();
  if (state.tab === "grid" && state.grid) {
    state.runs = renderGrid(gridElement, state.grid, selectedRun()?.run_id);
  } else if (state.tab === "graph" && state.dag) {
    renderGraph(document.getElementById("graph"), state.dag, statesOf(selectedRun()));
  } else if (state.tab === "gantt") {
    loadGantt().catch((error) => showError(errorBox, error));
  } else if (state.tab === "runs") {
    loadRuns().catch((error) => showError(errorBox, error));
  } else if (state.tab === "code") {
    loadVersions().catch((error) => showError(errorBox, error));
  }
}

document.getElementById("graph").addEventListener("click", (event) => {
  const node = event.target.closest("g.node");
  const run = selectedRun();
  if (!node || !run) return;
  location.assign(
    `/dags/${enc(dagId)}/runs/${enc(run.run_id)}/tasks/${enc(node.dataset.taskId)}?map_index=-1`,
  );
});

// --- runs -----------------------------------------------------------------------------------
function runActions(runId) {
  return `<button type="button" class="small" data-action="clear" data-run-id="${esc(runId)}">Clear failed</button>
    <button type="button" class="small secondary" data-action="success" data-run-id="${esc(runId)}">Mark success</button>
    <button type="button" class="small secondary" data-action="failed" data-run-id="${esc(runId)}">Mark failed</button>`;
}

async function loadRuns() {
  const page = await api(`/dags/${enc(dagId)}/runs?limit=25&offset=${state.runsOffset}`);
  document.getElementById("run-rows").innerHTML = page.items
    .map(
      (r) => `<tr><td>${badge(r.state)}</td>
        <td><a href="?tab=gantt&run_id=${enc(r.run_id)}" data-run-id="${esc(r.run_id)}" class="run-link">${esc(r.run_id)}</a></td>
        <td>${esc(r.run_type)}</td><td>${esc(fmtDate(r.run_after))}</td>
        <td>${esc(fmtDate(r.start_date))}</td><td>${esc(fmtDate(r.end_date))}</td>
        <td>${esc(fmtDuration(r.duration))}</td><td class="actions">${runActions(r.run_id)}</td></tr>`,
    )
    .join("") || '<tr><td colspan="8" class="muted">No runs yet.</td></tr>';
  renderPager(document.getElementById("runs-pager"), page, (to) => {
    state.runsOffset = to;
    loadRuns();
  });
}

document.getElementById("main").addEventListener("click", async (event) => {
  const link = event.target.closest("a.run-link");
  if (link) {
    event.preventDefault();
    state.runId = link.dataset.runId;
    showTab("gantt");
    return;
  }
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const runId = button.dataset.runId;
  try {
    const done =
      button.dataset.action === "clear"
        ? await clearTasks(dagId, runId, {
            taskIds: state.dag.tasks.map((t) => t.task_id),
            onlyFailed: true,
          })
        : await markTasks(dagId, runId, button.dataset.action);
    if (done) refresh();
  } catch (error) {
    showError(errorBox, error);
  }
});

// --- code -----------------------------------------------------------------------------------
const versions = document.getElementById("versions");
async function loadVersions() {
  if (!versions.options.length) {
    const page = await api(`/dags/${enc(dagId)}/versions?limit=100`);
    versions.innerHTML = page.items
      .map((v) => `<option value="${v.id}">#${v.id} · ${esc(v.version_hash.slice(0, 10))} · ${esc(fmtDate(v.created_at))}</option>`)
      .join("");
  }
  if (!versions.value) return;
  const source = await api(`/dags/${enc(dagId)}/versions/${versions.value}/source`);
  document.getElementById("code-meta").textContent = source.fileloc;
  document.getElementById("code").textContent = source.source_code;
}
versions.addEventListener("change", () => loadVersions().catch((e) => showError(errorBox, e)));

// --- tabs and refresh -----------------------------------------------------------------------
function showTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  for (const section of document.querySelectorAll("section.tab")) {
    section.hidden = section.id !== `tab-${tab}`;
  }
  remember();
  render();
}

for (const button of document.querySelectorAll("[data-tab]")) {
  button.addEventListener("click", () => showTab(button.dataset.tab));
}

let stopPolling = null;
let idle = null;
function refresh() {
  stopPolling?.();
  clearTimeout(idle);
  // Poll while a run is active; after that, look again now and then for new runs.
  stopPolling = poll(async () => {
    const active = await loadGrid();
    if (active && state.tab === "gantt") await loadGantt();
    if (!active) idle = setTimeout(refresh, 15000);
    return active;
  }, 2000);
}

showTab(state.tab);
loadDag()
  .then(() => {
    render();
    refresh();
  })
  .catch((error) => showError(errorBox, error));
