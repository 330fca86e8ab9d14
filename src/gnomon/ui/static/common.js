// Shared by every page: the API client (CSRF header on changes), formatting, states, dialogs.

const CHANGES = new Set(["POST", "PATCH", "PUT", "DELETE"]);

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]').content;
}

/** Fetch `/api/v1${path}` as JSON; a 401 sends the browser to the login form. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (CHANGES.has(method)) headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, "signed out");
  }
  const data = response.headers.get("content-type")?.includes("json")
    ? await response.json()
    : await response.text();
  if (!response.ok) throw new ApiError(response.status, data?.detail ?? data);
  return data;
}

export const enc = encodeURIComponent;

export function esc(value) {
  return String(value ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

export function fmtDate(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function since(startIso, endIso) {
  if (!startIso) return null;
  const end = endIso ? new Date(endIso) : new Date();
  return (end - new Date(startIso)) / 1000;
}

export const FINISHED = new Set(["success", "failed", "skipped", "upstream_failed", "removed"]);

export function isActive(state) {
  return ["running", "queued", "scheduled", "up_for_retry", "restarting", "deferred"].includes(
    state,
  );
}

export function stateClass(state) {
  return `s-${state || "none"}`;
}

export function badge(state) {
  return `<span class="badge ${stateClass(state)}">${esc(state || "no state")}</span>`;
}

export function describeError(error) {
  if (!(error instanceof ApiError)) return String(error);
  const { detail } = error;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}

export function showError(element, error) {
  element.textContent = error ? describeError(error) : "";
  element.hidden = !error;
}

/** Ask before a change: a title, a summary line and the list of what changes. */
export function confirmChange(title, summary, items) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-summary").textContent = summary;
  const list = document.getElementById("confirm-list");
  list.innerHTML = items.length
    ? `<ul>${items.map((i) => `<li>${i}</li>`).join("")}</ul>`
    : '<p class="muted">Nothing would change.</p>';
  document.getElementById("confirm-ok").disabled = items.length === 0;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/** A Page's pager: previous / next and the position. */
export function renderPager(element, page, go) {
  const { total, limit, offset } = page;
  if (total <= limit && offset === 0) {
    element.innerHTML = "";
    return;
  }
  element.innerHTML = `
    <button type="button" class="secondary" data-to="${offset - limit}" ${offset <= 0 ? "disabled" : ""}>‹ Previous</button>
    <span class="muted">${offset + 1}–${Math.min(offset + limit, total)} of ${total}</span>
    <button type="button" class="secondary" data-to="${offset + limit}" ${offset + limit >= total ? "disabled" : ""}>Next ›</button>`;
  for (const button of element.querySelectorAll("button")) {
    button.addEventListener("click", () => go(Math.max(0, Number(button.dataset.to))));
  }
}

/** Call `fn` now and every `ms` while it returns true (and the page is open). */
export function poll(fn, ms) {
  let timer = null;
  const tick = async () => {
    let again = false;
    try {
      again = await fn();
    } catch (error) {
      console.error(error);
      again = true;
    }
    if (again) timer = setTimeout(tick, ms);
  };
  tick();
  return () => clearTimeout(timer);
}

export function taskUrl(dagId, runId, taskId, mapIndex = -1, tryNumber = null) {
  const query = new URLSearchParams({ map_index: String(mapIndex) });
  if (tryNumber) query.set("try", String(tryNumber));
  return `/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}?${query}`;
}
