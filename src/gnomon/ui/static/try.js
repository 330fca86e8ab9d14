// One try of a task instance: its state and times, XComs, rendered fields, and its log (live).
import { clearTasks, markTasks } from "./actions.js";
import {
  FINISHED, api, badge, enc, esc, fmtDate, fmtDuration, poll, showError, since, stateClass,
  taskUrl,
} from "./common.js";

const main = document.getElementById("main");
const { dagId, runId, taskId } = main.dataset;
const query = new URLSearchParams(location.search);
const mapIndex = Number(query.get("map_index") ?? -1);
const base = `/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}`;
const errorBox = document.getElementById("ti-error");
let tryNumber = query.has("try") ? Number(query.get("try")) : null;
// Without a try in the address (or after a clear), show the latest try as it appears.
let followLatest = !query.has("try");
let logStop = null;
let logGeneration = 0;

function dl(element, entries) {
  const shown = entries.filter(([, v]) => v !== null && v !== undefined && v !== "");
  element.innerHTML = shown.length
    ? shown.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join("")
    : '<p class="muted">None.</p>';
}

function value(v) {
  return typeof v === "string" ? esc(v) : `<code>${esc(JSON.stringify(v, null, 2))}</code>`;
}

function renderTi(ti) {
  const tries = ti.tries || [];
  const latest = ti.try_number || (tries.length ? tries[tries.length - 1].try_number : 0);
  if (tryNumber === null) tryNumber = latest || 1;
  const chosen = tries.find((t) => t.try_number === tryNumber) ||
    (tryNumber === latest ? ti : null) || {};
  const stateBox = document.getElementById("ti-state");
  stateBox.className = `badge ${stateClass(ti.state)}`;
  stateBox.textContent = ti.state || "no state";
  const numbers = new Set(tries.map((t) => t.try_number));
  for (let n = 1; n <= latest; n += 1) numbers.add(n);
  document.getElementById("tries").innerHTML = [...numbers]
    .sort((a, b) => a - b)
    .map((n) => {
      const t = tries.find((x) => x.try_number === n);
      return `<a href="${esc(taskUrl(dagId, runId, taskId, mapIndex, n))}" class="try ${
        n === tryNumber ? "current" : ""
      } ${stateClass(t?.state ?? (n === latest ? ti.state : null))}">Try ${n}</a>`;
    })
    .join("");
  dl(document.getElementById("ti-details"), [
    ["Try", esc(tryNumber)],
    ["State", badge(chosen.state ?? ti.state)],
    ["Operator", esc(ti.operator)],
    ["Map index", mapIndex >= 0 ? esc(mapIndex) : null],
    ["Started", esc(fmtDate(chosen.start_date))],
    ["Ended", esc(fmtDate(chosen.end_date))],
    ["Duration", esc(fmtDuration(since(chosen.start_date, chosen.end_date)))],
    ["Host", esc(chosen.hostname ?? chosen.host)],
    ["PID", esc(chosen.pid)],
    ["Exit reason", esc(chosen.exit_reason)],
    ["Executor", esc(chosen.executor)],
    ["Queue", esc(chosen.queue ?? ti.queue)],
    ["Pool", esc(chosen.pool ?? ti.pool)],
  ]);
  dl(
    document.getElementById("fields"),
    Object.entries(ti.fields || {}).map(([k, v]) => [k, value(v)]),
  );
}

async function loadTi() {
  const ti = await api(`${base}?map_index=${mapIndex}`);
  renderTi(ti);
  return ti;
}

async function loadXcoms() {
  const data = await api(`${base}/xcoms?map_index=${mapIndex}`);
  const items = Array.isArray(data) ? data : data.items || [];
  dl(document.getElementById("xcoms"), items.map((x) => [x.key, value(x.value)]));
}

function followLog() {
  logStop?.();
  const log = document.getElementById("log");
  const status = document.getElementById("log-status");
  log.textContent = "";
  let offset = 0;
  const generation = ++logGeneration;
  const number = tryNumber;
  logStop = poll(async () => {
    let chunk;
    try {
      chunk = await api(`${base}/tries/${number}/logs?map_index=${mapIndex}&offset=${offset}`);
      // A newer try's log replaced this one while the request was out: drop the answer.
      if (generation !== logGeneration) return false;
    } catch (error) {
      if (error.status === 404) {
        status.textContent = "(waiting for the try to start)";
        return true;
      }
      throw error;
    }
    if (chunk.content) {
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.append(chunk.content);
      if (atBottom) log.scrollTop = log.scrollHeight;
    }
    offset = chunk.next_offset;
    // A notice says why the log cannot be read just now (its worker is unreachable...).
    status.textContent = chunk.notice ? `(${chunk.notice})` : chunk.complete ? "" : "(live)";
    return !chunk.complete;
  }, 1000);
}

function options() {
  return {
    taskIds: [taskId],
    includeDownstream: document.getElementById("opt-downstream").checked,
    onlyFailed: document.getElementById("opt-failed").checked,
  };
}

async function act(change) {
  showError(errorBox, null);
  try {
    if (await change()) {
      // Reload without a try in the address: the page then follows the newest try as the
      // scheduler creates it.
      location.assign(taskUrl(dagId, runId, taskId, mapIndex));
    }
  } catch (error) {
    showError(errorBox, error);
  }
}

document.getElementById("clear").addEventListener("click", () =>
  act(() => clearTasks(dagId, runId, options())),
);
for (const state of ["success", "failed"]) {
  document.getElementById(`mark-${state}`).addEventListener("click", () =>
    act(() => markTasks(dagId, runId, state, { taskIds: [taskId], ...options() })),
  );
}

let tiStop = null;
function watch() {
  tiStop?.();
  let shownTry = null;
  tiStop = poll(async () => {
    const ti = await loadTi();
    const latest = ti.try_number || 0;
    // After a clear, follow the new try once it exists.
    if (followLatest && latest && tryNumber < latest) {
      tryNumber = latest;
      history.replaceState(null, "", taskUrl(dagId, runId, taskId, mapIndex, latest));
    }
    if (shownTry !== tryNumber) {
      shownTry = tryNumber;
      renderTi(ti);
      followLog();
    }
    // Until it finishes: "none" too, which is where a cleared instance, or one whose
    // upstream is still running, waits for the scheduler.
    const active = !FINISHED.has(ti.state);
    if (!active) loadXcoms().catch((error) => showError(errorBox, error));
    return active;
  }, 2000);
}

watch();
loadXcoms().catch(() => {});
