// The graph: layers by longest path from the roots, drawn left to right in SVG.
import { esc, stateClass } from "./common.js";

const W = 170;
const H = 34;
const GAP_X = 60;
const GAP_Y = 14;

/** Layer of each task: 0 for roots, else one more than its deepest upstream. */
export function layers(order, byId) {
  const layer = new Map();
  for (const id of order) {
    const ups = byId.get(id).upstream;
    layer.set(id, ups.length ? 1 + Math.max(...ups.map((u) => layer.get(u) ?? 0)) : 0);
  }
  const columns = [];
  for (const id of order) {
    const l = layer.get(id);
    (columns[l] ||= []).push(id);
  }
  // One barycentre pass: a task sits near the mean row of its upstreams, fewer crossings.
  const row = new Map();
  columns.forEach((column, l) => {
    if (l > 0) {
      const weight = (id) => {
        const ups = byId.get(id).upstream;
        return ups.length ? ups.reduce((s, u) => s + row.get(u), 0) / ups.length : 0;
      };
      column.sort((a, b) => weight(a) - weight(b));
    }
    column.forEach((id, i) => row.set(id, i));
  });
  return { columns, row, layer };
}

export function renderGraph(element, dag, states) {
  const byId = new Map(dag.tasks.map((t) => [t.task_id, t]));
  const order = dag.order.filter((id) => byId.has(id));
  const { columns, row, layer } = layers(order, byId);
  const tallest = Math.max(1, ...columns.map((c) => c.length));
  const width = columns.length * (W + GAP_X);
  const height = tallest * (H + GAP_Y) + GAP_Y;
  const pos = (id) => {
    const column = columns[layer.get(id)];
    const offset = ((tallest - column.length) * (H + GAP_Y)) / 2;
    return { x: layer.get(id) * (W + GAP_X) + 10, y: offset + row.get(id) * (H + GAP_Y) + GAP_Y };
  };
  const edges = [];
  const nodes = [];
  for (const id of order) {
    const p = pos(id);
    for (const d of byId.get(id).downstream) {
      if (!byId.has(d)) continue;
      const q = pos(d);
      const x1 = p.x + W;
      const y1 = p.y + H / 2;
      const x2 = q.x;
      const y2 = q.y + H / 2;
      const mid = (x1 + x2) / 2;
      edges.push(`<path class="edge" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2 - 4},${y2}"/>`);
    }
    const task = byId.get(id);
    const state = states?.get(id) ?? null;
    const name = task.is_mapped ? `${id} [ ]` : id;
    const label = name.length > 22 ? `${name.slice(0, 21)}…` : name;
    nodes.push(`<g class="node ${stateClass(state)}" data-task-id="${esc(id)}" transform="translate(${p.x},${p.y})">
      <title>${esc(`${id} (${task.operator}): ${state || "no state"}`)}</title>
      <rect width="${W}" height="${H}" rx="5"/><rect class="stripe" width="6" height="${H}" rx="2"/>
      <text x="14" y="${H / 2 + 4}">${esc(label)}</text></g>`);
  }
  element.innerHTML = order.length
    ? `<svg class="graph" width="${width + 20}" height="${height}" viewBox="0 0 ${width + 20} ${height}">
      <defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" class="arrowhead"/></marker></defs>
      ${edges.join("")}${nodes.join("")}</svg>`
    : '<p class="muted">This DAG has no tasks.</p>';
}
