// The DAG list: import errors, then a page of DAGs with their recent runs.
import { api, enc, esc, fmtDate, renderPager, stateClass } from "./common.js";

const LIMIT = 25;
const rows = document.getElementById("dag-rows");
const search = document.getElementById("search");
const params = new URLSearchParams(location.search);
let offset = Number(params.get("offset") || 0);
search.value = params.get("search") || "";

function dots(runs) {
  // The API gives the newest first; show the oldest on the left.
  return [...runs]
    .reverse()
    .map(
      (r) =>
        `<a class="dot ${stateClass(r.state)}" href="/dags/${enc(r.dag_id)}" title="${esc(
          `${r.run_id}: ${r.state}`,
        )}"></a>`,
    )
    .join("");
}

function row(dag) {
  const href = `/dags/${enc(dag.dag_id)}`;
  return `<tr data-dag-id="${esc(dag.dag_id)}">
    <td class="narrow"><label class="switch"><input type="checkbox" class="pause" data-dag-id="${esc(
      dag.dag_id,
    )}" ${dag.is_paused ? "" : "checked"} aria-label="Active"></label></td>
    <td><a class="dag-link" href="${href}">${esc(dag.dag_id)}</a>
      ${dag.team ? `<span class="tag team">${esc(dag.team)}</span>` : ""}
      ${dag.description ? `<div class="muted small">${esc(dag.description)}</div>` : ""}</td>
    <td class="dots">${dots(dag.recent_runs) || '<span class="muted small">no runs</span>'}</td>
    <td>${esc(dag.schedule || "none")}</td>
    <td>${esc(fmtDate(dag.next_dagrun_create_after))}</td>
    <td>${dag.tags.map((t) => `<span class="tag">${esc(t)}</span>`).join(" ")}</td>
    <td class="narrow"><a class="button small" href="${href}/trigger" title="Trigger a run">▶ Trigger</a></td>
  </tr>`;
}

async function loadImportErrors() {
  const section = document.getElementById("import-errors");
  const page = await api("/dags/import-errors?limit=100");
  section.hidden = page.items.length === 0;
  section.innerHTML = `<h2>Import errors (${page.total})</h2>${page.items
    .map((e) => `<details><summary>${esc(e.fileloc)}</summary><pre>${esc(e.error)}</pre></details>`)
    .join("")}`;
}

async function load() {
  const query = new URLSearchParams({ limit: String(LIMIT), offset: String(offset) });
  if (search.value) query.set("dag_id_pattern", search.value);
  const page = await api(`/dags?${query}`);
  rows.innerHTML = page.items.length
    ? page.items.map(row).join("")
    : '<tr><td colspan="7" class="muted">No DAGs.</td></tr>';
  renderPager(document.getElementById("pager"), page, (to) => {
    offset = to;
    remember();
    load();
  });
}

function remember() {
  const query = new URLSearchParams();
  if (search.value) query.set("search", search.value);
  if (offset) query.set("offset", String(offset));
  history.replaceState(null, "", query.size ? `?${query}` : location.pathname);
}

rows.addEventListener("change", async (event) => {
  const box = event.target;
  if (!box.classList.contains("pause")) return;
  box.disabled = true;
  try {
    await api(`/dags/${enc(box.dataset.dagId)}`, {
      method: "PATCH",
      body: { is_paused: !box.checked },
    });
  } catch (error) {
    box.checked = !box.checked;
    alert(`Could not change ${box.dataset.dagId}: ${error.message}`);
  } finally {
    box.disabled = false;
  }
});

let typing = null;
search.addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => {
    offset = 0;
    remember();
    load();
  }, 200);
});

loadImportErrors();
load();
setInterval(load, 10000);
