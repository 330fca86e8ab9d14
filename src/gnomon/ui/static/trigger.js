// The trigger form, generated from the DAG's params (JSON schemas), checked before sending.
import { api, enc, esc, describeError, ApiError } from "./common.js";

const dagId = document.getElementById("main").dataset.dagId;
const container = document.getElementById("params");
const form = document.getElementById("trigger-form");
const formError = document.getElementById("trigger-error");
let specs = {};

function typeOf(schema) {
  const type = Array.isArray(schema.type)
    ? schema.type.find((t) => t !== "null")
    : schema.type;
  if (Array.isArray(schema.enum)) return "enum";
  return type || "json";
}

function field(name, spec) {
  const schema = spec.schema || {};
  const kind = typeOf(schema);
  const has = Object.hasOwn(spec, "default");
  const value = has ? spec.default : undefined;
  const id = `param-${name}`;
  let input;
  if (kind === "enum") {
    input = `<select id="${id}" name="${esc(name)}">${schema.enum
      .map(
        (v) =>
          `<option value="${esc(JSON.stringify(v))}" ${
            JSON.stringify(v) === JSON.stringify(value) ? "selected" : ""
          }>${esc(v)}</option>`,
      )
      .join("")}</select>`;
  } else if (kind === "boolean") {
    input = `<input type="checkbox" id="${id}" name="${esc(name)}" ${value ? "checked" : ""}>`;
  } else if (kind === "integer" || kind === "number") {
    const attrs = [
      schema.minimum !== undefined ? `min="${esc(schema.minimum)}"` : "",
      schema.maximum !== undefined ? `max="${esc(schema.maximum)}"` : "",
    ].join(" ");
    input = `<input type="number" id="${id}" name="${esc(name)}" step="${
      kind === "integer" ? "1" : "any"
    }" ${attrs} value="${has && value !== null ? esc(value) : ""}">`;
  } else if (kind === "string") {
    input = `<input type="text" id="${id}" name="${esc(name)}" value="${
      has && value !== null ? esc(value) : ""
    }">`;
  } else {
    input = `<textarea id="${id}" name="${esc(name)}" rows="4" spellcheck="false">${
      has ? esc(JSON.stringify(value, null, 2)) : ""
    }</textarea>`;
  }
  return `<div class="field" data-param="${esc(name)}">
    <label for="${id}">${esc(name)} <span class="muted small">${esc(kind === "json" ? "JSON" : kind)}${
      has ? "" : " · required"
    }</span></label>
    ${input}
    ${spec.description ? `<p class="muted small">${esc(spec.description)}</p>` : ""}
    <p class="error field-error" hidden></p>
  </div>`;
}

/** The param's value from its input, or throws a message saying what is wrong. */
function read(name, spec) {
  const schema = spec.schema || {};
  const kind = typeOf(schema);
  const input = form.elements.namedItem(name);
  if (kind === "enum") return JSON.parse(input.value);
  if (kind === "boolean") return input.checked;
  const raw = input.value.trim();
  if (raw === "") {
    if (Object.hasOwn(spec, "default")) return spec.default;
    throw new Error("is required");
  }
  if (kind === "integer" || kind === "number") {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new Error("must be a number");
    if (kind === "integer" && !Number.isInteger(n)) throw new Error("must be a whole number");
    if (schema.minimum !== undefined && n < schema.minimum)
      throw new Error(`must be at least ${schema.minimum}`);
    if (schema.maximum !== undefined && n > schema.maximum)
      throw new Error(`must be at most ${schema.maximum}`);
    return n;
  }
  if (kind === "string") {
    if (schema.minLength !== undefined && raw.length < schema.minLength)
      throw new Error(`must be at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && raw.length > schema.maxLength)
      throw new Error(`must be at most ${schema.maxLength} characters`);
    if (schema.pattern && !new RegExp(schema.pattern, "u").test(raw))
      throw new Error(`must match ${schema.pattern}`);
    return input.value;
  }
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new Error(`is not valid JSON (${error.message})`);
  }
  if (kind === "object" && (parsed === null || Array.isArray(parsed) || typeof parsed !== "object"))
    throw new Error("must be a JSON object");
  if (kind === "array" && !Array.isArray(parsed)) throw new Error("must be a JSON array");
  return parsed;
}

function setFieldError(name, message, fromServer = false) {
  const box = container.querySelector(`[data-param="${CSS.escape(name)}"] .field-error`);
  if (!box) return false;
  box.textContent = !message ? "" : fromServer ? message : `${name} ${message}`;
  box.hidden = !message;
  return true;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  formError.hidden = true;
  const conf = {};
  let valid = true;
  for (const [name, spec] of Object.entries(specs)) {
    try {
      conf[name] = read(name, spec);
      setFieldError(name, null);
    } catch (error) {
      setFieldError(name, error.message);
      valid = false;
    }
  }
  if (!valid) return;
  const button = document.getElementById("trigger-submit");
  button.disabled = true;
  try {
    await api(`/dags/${enc(dagId)}/runs`, { method: "POST", body: { conf } });
    location.assign(`/dags/${enc(dagId)}`);
  } catch (error) {
    const message = describeError(error);
    formError.textContent = error instanceof ApiError ? `Refused (${error.status}): ${message}` : message;
    formError.hidden = false;
    // The API's message names the param at fault: point at its field too.
    for (const name of Object.keys(specs)) {
      if (message.includes(`'${name}'`) || message.includes(`"${name}"`)) setFieldError(name, message, true);
    }
    button.disabled = false;
  }
});

async function load() {
  const dag = await api(`/dags/${enc(dagId)}`);
  specs = dag.params || {};
  const names = Object.keys(specs);
  container.innerHTML = names.length
    ? names.map((name) => field(name, specs[name])).join("")
    : '<p class="muted">This DAG has no params: the run gets an empty conf.</p>';
}

load().catch((error) => {
  formError.textContent = describeError(error);
  formError.hidden = false;
});
