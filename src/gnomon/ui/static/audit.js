// The audit log, newest first.
import { api, esc, fmtDate, renderPager } from "./common.js";

const LIMIT = 50;

async function load(offset) {
  const page = await api(`/audit?limit=${LIMIT}&offset=${offset}`);
  document.getElementById("audit-rows").innerHTML = page.items
    .map(
      (e) => `<tr><td>${esc(fmtDate(e.created_at))}</td><td>${esc(e.username ?? "—")}</td>
        <td>${esc(e.action)}</td><td><code>${esc(e.method)} ${esc(e.path)}</code></td>
        <td class="${e.status_code >= 400 ? "error-text" : ""}">${esc(e.status_code)}</td>
        <td>${e.dag_id ? `<a href="/dags/${encodeURIComponent(e.dag_id)}">${esc(e.dag_id)}</a>` : ""}</td></tr>`,
    )
    .join("");
  renderPager(document.getElementById("pager"), page, load);
}

load(0);
