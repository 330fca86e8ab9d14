// The Gantt chart of one run: a bar per task instance from its start to its end (or now).
import { esc, fmtDuration, since, stateClass, taskUrl } from "./common.js";

const ROW = 22;
const LABEL = 220;
const WIDTH = 900;

export function renderGantt(element, dagId, run) {
  const tis = run.tasks.filter((ti) => ti.start_date);
  if (!tis.length) {
    element.innerHTML = '<p class="muted">No task of this run has started yet.</p>';
    return;
  }
  const t0 = Math.min(...tis.map((ti) => Date.parse(ti.start_date)));
  const t1 = Math.max(
    ...tis.map((ti) => (ti.end_date ? Date.parse(ti.end_date) : Date.now())),
    t0 + 1000,
  );
  const scale = (WIDTH - LABEL - 80) / (t1 - t0);
  const rows = tis
    .sort((a, b) => Date.parse(a.start_date) - Date.parse(b.start_date))
    .map((ti, i) => {
      const x = LABEL + (Date.parse(ti.start_date) - t0) * scale;
      const end = ti.end_date ? Date.parse(ti.end_date) : Date.now();
      const w = Math.max(2, (end - Date.parse(ti.start_date)) * scale);
      const name = ti.map_index >= 0 ? `${ti.task_id} [${ti.map_index}]` : ti.task_id;
      const href = taskUrl(dagId, run.run_id, ti.task_id, ti.map_index, ti.try_number);
      const took = fmtDuration(since(ti.start_date, ti.end_date));
      return `<a href="${esc(href)}" class="${stateClass(ti.state)}"><g transform="translate(0,${i * ROW})">
        <title>${esc(`${name}: ${ti.state}, ${took}`)}</title>
        <text x="${LABEL - 8}" y="15" text-anchor="end">${esc(name.length > 30 ? `${name.slice(0, 29)}…` : name)}</text>
        <rect class="bar" x="${x}" y="4" width="${w}" height="${ROW - 8}" rx="2"/>
        <text class="took" x="${x + w + 4}" y="15">${esc(took)}</text></g></a>`;
    });
  const height = tis.length * ROW + 24;
  element.innerHTML = `<svg class="gantt" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">
    ${rows.join("")}
    <text class="axis" x="${LABEL}" y="${height - 4}">0 s</text>
    <text class="axis" x="${WIDTH - 80}" y="${height - 4}" text-anchor="end">${esc(fmtDuration((t1 - t0) / 1000))}</text>
  </svg>`;
}
