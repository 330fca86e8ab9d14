// Clear and mark: a dry run first, the list in a confirmation dialog, then the change.
import { api, confirmChange, enc, esc, badge } from "./common.js";

function listed(result) {
  return result.task_instances.map(
    (ti) =>
      `${esc(ti.task_id)}${ti.map_index >= 0 ? ` [${ti.map_index}]` : ""} ${badge(ti.state)}`,
  );
}

async function withConfirmation(path, body, title, summary) {
  const preview = await api(path, { method: "POST", body: { ...body, dry_run: true } });
  if (!(await confirmChange(title, summary, listed(preview)))) return null;
  return api(path, { method: "POST", body: { ...body, dry_run: false } });
}

/** Clear task instances of a run (they run again). Resolves to the result, or null. */
export function clearTasks(dagId, runId, { taskIds, includeDownstream = false, onlyFailed = false }) {
  return withConfirmation(
    `/dags/${enc(dagId)}/runs/${enc(runId)}/clear`,
    { task_ids: taskIds, include_downstream: includeDownstream, only_failed: onlyFailed },
    "Clear task instances",
    `These task instances of ${runId} will be cleared and run again:`,
  );
}

/** Mark a run's task instances (all of them when taskIds is null) success or failed. */
export function markTasks(dagId, runId, state, { taskIds = null, includeDownstream = false } = {}) {
  return withConfirmation(
    `/dags/${enc(dagId)}/runs/${enc(runId)}/mark`,
    { state, task_ids: taskIds, include_downstream: includeDownstream },
    `Mark ${state}`,
    `These task instances of ${runId} will be marked ${state}:`,
  );
}
