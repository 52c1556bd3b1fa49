// The playground: builds a form from the server's /openapi.json, runs predictions with Cog's HTTP API and
// shows what they return. The server stays the judge of inputs: the form sends what was typed and shows
// a 422's detail beside each field. No framework, no build step, nothing fetched from elsewhere.
"use strict";

const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
const EXTENSIONS = {
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp",
  svg: "image/svg+xml", bmp: "image/bmp", wav: "audio/wav", mp3: "audio/mpeg", ogg: "audio/ogg",
  flac: "audio/flac", m4a: "audio/mp4", mp4: "video/mp4", webm: "video/webm", mov: "video/quicktime",
  txt: "text/plain", json: "application/json",
};
const $ = (id) => document.getElementById(id);
const api = (path) => new URL("../" + path, location.href).href; // the API is the page's parent
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let model = null; // {kind, fields, display, streaming}, from the schema
let running = null; // {id}, the prediction in flight
let metrics = {};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

class FieldError extends Error {}

// --- the form, from the schema -------------------------------------------------------------------

async function load() {
  for (;;) {
    const response = await fetch(api("openapi.json")).catch(() => null);
    if (response && response.ok) return build(await response.json());
    const health = await showHealth();
    if (health && ["SETUP_FAILED", "DEFUNCT"].includes(health.status)) {
      showError(`the model did not start (${health.status})\n${health.setup?.logs ?? ""}`);
      return;
    }
    $("fields").replaceChildren(el("p", { class: "muted", text: "Waiting for the model's setup to finish…" }));
    await sleep(1000);
  }
}

function build(doc) {
  const kind = doc.paths["/predictions"] ? "predictions" : "trainings";
  const [inputName, outputName] = kind === "predictions" ? ["Input", "Output"] : ["TrainingInput", "TrainingOutput"];
  const schemas = doc.components.schemas;
  const input = schemas[inputName];
  const required = new Set(input.required ?? []);
  const fields = Object.entries(input.properties)
    .sort(([, a], [, b]) => (a["x-order"] ?? 0) - (b["x-order"] ?? 0))
    .map(([name, prop]) => field(name, withChoices(prop, schemas), required.has(name)));
  model = {
    kind,
    fields,
    display: schemas[outputName]?.["x-cog-array-display"],
    streaming: Boolean(doc.paths[`/${kind}`]?.post?.["x-cog-streaming"]),
  };
  $("fields").replaceChildren(...fields.map((f) => f.row));
  $("run").disabled = false;
  showHealth();
}

function withChoices(prop, schemas) {
  // an input with choices is allOf [{$ref: "#/components/schemas/<name>"}], the enum's own schema
  const ref = prop.allOf?.[0]?.$ref;
  if (!ref) return prop;
  const choices = schemas[ref.split("/").pop()];
  return { ...prop, enum: choices.enum, type: choices.type };
}

function field(name, prop, required) {
  const id = "input-" + name;
  const title = prop.title ?? name.replace(/_/g, " ").replace(/\b\w/g, (c) => c.toUpperCase());
  const control = makeControl(id, prop);
  const error = el("div", { class: "field-error", id: id + "-error" });
  const label = el("label", { for: id }, title, required ? el("span", { class: "required", text: " *" }) : "");
  const row = el("div", { class: "field", "data-name": name }, label, control.node, el("div", { class: "help", text: describe(prop) }), error);
  return { name, row, error, read: control.read };
}

function describe(prop) {
  const facts = [];
  if (prop.minimum !== undefined) facts.push(`min ${prop.minimum}`);
  if (prop.maximum !== undefined) facts.push(`max ${prop.maximum}`);
  if (prop.minLength !== undefined) facts.push(`at least ${prop.minLength} characters`);
  if (prop.maxLength !== undefined) facts.push(`at most ${prop.maxLength} characters`);
  if (prop.pattern !== undefined) facts.push(`matches ${prop.pattern}`);
  if (prop.default !== undefined && prop.default !== null && !isFile(prop)) facts.push(`default ${JSON.stringify(prop.default)}`);
  if (prop.deprecated) facts.push("deprecated");
  return [prop.description, facts.join(" · ")].filter(Boolean).join(" — ");
}

const isFile = (prop) => prop.type === "string" && prop.format === "uri";

function makeControl(id, prop) {
  const initial = prop.default ?? undefined;
  if (prop.enum) {
    const select = el("select", { id });
    if (initial === undefined) select.append(el("option", { value: "", text: "—" }));
    prop.enum.forEach((v, i) => select.append(el("option", { value: String(i), text: String(v), selected: v === initial })));
    return { node: select, read: () => (select.value === "" ? undefined : prop.enum[Number(select.value)]) };
  }
  if (prop.type === "boolean") {
    const box = el("input", { id, type: "checkbox", checked: initial === true });
    return { node: box, read: () => box.checked };
  }
  if (prop.type === "integer" || prop.type === "number") {
    const step = prop.type === "integer" ? "1" : "any";
    const input = el("input", { id, type: "number", step, min: prop.minimum, max: prop.maximum, value: initial });
    return { node: input, read: () => (input.value === "" ? undefined : Number(input.value)) };
  }
  if (isFile(prop)) return fileControl(id, prop, false);
  if (prop.type === "array" && isFile(prop.items ?? {})) return fileControl(id, prop.items, true);
  if (prop.type === "string") {
    const attrs = { id, minlength: prop.minLength, maxlength: prop.maxLength };
    const input = prop["x-cog-secret"] ? el("input", { ...attrs, type: "password", autocomplete: "off" }) : el("textarea", { ...attrs, rows: 2 });
    input.value = initial ?? "";
    return { node: input, read: () => (input.value === "" ? undefined : input.value) };
  }
  // objects, lists and unions: JSON (a union's plain text is taken as a string)
  const area = el("textarea", { id, rows: 3, class: "json", placeholder: "JSON" });
  area.value = initial === undefined ? "" : JSON.stringify(initial);
  const read = () => {
    if (area.value.trim() === "") return undefined;
    try {
      return JSON.parse(area.value);
    } catch (e) {
      if (prop.anyOf) return area.value;
      throw new FieldError(`not valid JSON: ${e.message}`);
    }
  };
  return { node: area, read };
}

function fileControl(id, prop, multiple) {
  // a file goes as a data: URI; a URL typed instead goes as it is, for the server to fetch
  const input = el("input", { id, type: "file", accept: prop["x-cog-accept"], multiple });
  const url = el("input", { type: "url", class: "url", placeholder: multiple ? "…or URLs, space-separated" : "…or a URL" });
  const preview = el("div", { class: "preview" });
  let files = [];
  const pick = (list) => {
    files = multiple ? [...list] : [...list].slice(0, 1);
    preview.replaceChildren(...files.map(filePreview));
  };
  const zone = el("div", { class: "drop" }, el("div", { class: "muted", text: "Drop here, or choose:" }), input, url, preview);
  input.addEventListener("change", () => pick(input.files));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    input.files = event.dataTransfer.files;
    pick(input.files);
  });
  const read = async () => {
    if (files.length) {
      const uris = await Promise.all(files.map(dataURI));
      return multiple ? uris : uris[0];
    }
    const text = url.value.trim();
    if (!text) return undefined;
    return multiple ? text.split(/\s+/) : text;
  };
  return { node: zone, read };
}

function filePreview(file) {
  const caption = el("span", { text: `${file.name} (${size(file.size)})` });
  if (!file.type.startsWith("image/")) return el("div", {}, caption);
  return el("div", {}, el("img", { src: URL.createObjectURL(file), alt: file.name }), caption);
}

function dataURI(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

const size = (bytes) => (bytes < 1024 ? `${bytes} B` : bytes < 1 << 20 ? `${(bytes / 1024).toFixed(1)} kB` : `${(bytes / (1 << 20)).toFixed(1)} MB`);

// --- running a prediction ------------------------------------------------------------------------

async function run(event) {
  event.preventDefault();
  if (running || !model) return;
  // the client chooses the id (PUT /predictions/{id}), so Cancel can name it before any answer comes
  const id = "playground-" + Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
  running = { id };
  clearOutput();
  setStatus("starting"); // before reading the files: nothing of the last run may show as this one's
  $("run").disabled = true;
  try {
    const input = await readInputs();
    if (input === null) return setStatus("error", "invalid input");
    $("cancel").disabled = false;
    const headers = { "Content-Type": "application/json" };
    if (model.streaming) headers.Accept = "text/event-stream";
    else headers.Prefer = "respond-async";
    const response = await fetch(api(`${model.kind}/${id}`), { method: "PUT", headers, body: JSON.stringify({ input }) });
    if (!response.ok) await showRefusal(response);
    else if (model.streaming) {
      // a stream that ends before "completed" (the server let a lagging client go): follow it by GET
      if (!(await stream(response))) await poll(id, { status: "processing" });
    } else await poll(id, await response.json());
  } catch (e) {
    setStatus("error");
    showError(`the request failed: ${e.message}`);
  } finally {
    running = null;
    $("run").disabled = false;
    $("cancel").disabled = true;
    showHealth();
  }
}

async function readInputs() {
  // the form's values (an empty field is left out: the server applies its default), or null when a
  // field cannot be read, its error shown beside it
  const input = {};
  let invalid = false;
  for (const f of model.fields) {
    f.error.textContent = "";
    try {
      const value = await f.read();
      if (value !== undefined) input[f.name] = value;
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      f.error.textContent = e.message;
      invalid = true;
    }
  }
  return invalid ? null : input;
}

async function cancel() {
  if (!running) return;
  $("cancel").disabled = true;
  const response = await fetch(api(`${model.kind}/${running.id}/cancel`), { method: "POST" }).catch((e) => e);
  if (!response.ok) showError(`cancel failed: ${response.status ?? response.message}`);
}

async function showRefusal(response) {
  // 422: Cog's detail list, each entry shown at its field; 406/409/413/503: the error it names
  const body = await response.json().catch(() => ({}));
  setStatus("error", `HTTP ${response.status}`);
  if (Array.isArray(body.detail)) {
    const lines = body.detail.map((d) => {
      const name = d.loc?.[2];
      const f = model.fields.find((x) => x.name === name);
      if (f) f.error.textContent = d.msg;
      return `${name ?? d.loc?.join(".")}: ${d.msg}`;
    });
    showError(`the input was refused (HTTP ${response.status}):\n${lines.join("\n")}`);
  } else {
    showError(body.error ?? body.detail ?? `HTTP ${response.status} ${response.statusText}`);
  }
}

async function stream(response) {
  // Server-Sent Events over the PUT's own response (EventSource can only GET); whether it completed
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trimStart();
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
  return TERMINAL.has($("status").dataset.status);
}

function onEvent(name, data) {
  if (name === "start") setStatus("processing");
  else if (name === "output") appendOutput(data.chunk);
  else if (name === "log") $("logs").append(data.data);
  else if (name === "metric") {
    // the metrics so far, until "completed" brings them all; value is what was recorded, null deletes
    const old = metrics[data.name];
    if (data.value === null) delete metrics[data.name];
    else if (data.mode === "incr" || data.mode === "increment") metrics[data.name] = (old ?? 0) + data.value;
    else if (data.mode === "append") metrics[data.name] = [...(old ?? []), data.value];
    else metrics[data.name] = data.value;
    showMetrics();
  } else if (name === "completed") finish(data);
  else if (name === "error") showError(data.error);
}

async function poll(id, body) {
  let shown = "null"; // no output yet: what is on the page stays
  while (!TERMINAL.has(body.status)) {
    setStatus(body.status);
    $("logs").textContent = body.logs ?? "";
    const output = JSON.stringify(body.output ?? null);
    if (output !== shown) {  // an iterator's items so far; redrawn only when they change
      $("output").replaceChildren(render(body.output, model.display));
      shown = output;
    }
    await sleep(250);
    const response = await fetch(api(`${model.kind}/${id}`));
    if (!response.ok) throw new Error(`GET /${model.kind}/${id} answered HTTP ${response.status}`);
    body = await response.json();
  }
  finish(body);
}

function finish(body) {
  setStatus(body.status);
  $("output").replaceChildren(body.output === null || body.output === undefined ? "" : render(body.output, model.display));
  $("logs").textContent = body.logs ?? "";
  metrics = body.metrics ?? {};
  showMetrics();
  if (body.error) showError(body.error);
  $("json").textContent = JSON.stringify(body, (key, value) => (typeof value === "string" && value.length > 200 ? `${value.slice(0, 60)}… (${size(value.length)})` : value), 2);
}

// --- showing what came back ----------------------------------------------------------------------

function appendOutput(chunk) {
  // an item as it streams: text runs on in one block when the output concatenates, else one item each
  const box = $("output");
  if (model.display === "concatenate" && typeof chunk === "string") {
    const pre = box.querySelector("pre.text") ?? box.appendChild(el("pre", { class: "text" }));
    pre.append(chunk);
  } else {
    const list = box.querySelector("ol.items") ?? box.appendChild(el("ol", { class: "items", start: 0 }));
    list.append(el("li", {}, render(chunk)));
  }
}

function render(value, display) {
  if (value === null || value === undefined) return el("span", { class: "muted", text: "null" });
  if (typeof value === "string") return isFileURL(value) ? media(value) : el("pre", { class: "text", text: value });
  if (!hasFile(value)) {
    if (display === "concatenate" && Array.isArray(value)) return el("pre", { class: "text", text: value.join("") });
    return el("pre", { class: "json", text: JSON.stringify(value, null, 2) });
  }
  if (Array.isArray(value)) return el("ol", { class: "items", start: 0 }, ...value.map((v) => el("li", {}, render(v))));
  return el("dl", { class: "object" }, ...Object.entries(value).flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, render(v))]));
}

const isFileURL = (text) => /^data:[\w.+-]+\/[\w.+-]+[;,]/.test(text) || /^https?:\/\/\S+$/.test(text);
const hasFile = (value) => (typeof value === "string" ? isFileURL(value) : value !== null && typeof value === "object" && Object.values(value).some(hasFile));

function media(url) {
  const data = url.match(/^data:([^;,]+)/);
  const path = data ? "" : new URL(url).pathname;
  const type = data ? data[1] : EXTENSIONS[path.split(".").pop().toLowerCase()] ?? "";
  const extension = Object.keys(EXTENSIONS).find((k) => EXTENSIONS[k] === type) ?? "bin";
  const name = data ? `output.${extension}` : decodeURIComponent(path.split("/").pop()) || "output";
  let view = "";
  if (type.startsWith("image/")) view = el("img", { src: url, alt: name });
  else if (type.startsWith("audio/")) view = el("audio", { src: url, controls: true });
  else if (type.startsWith("video/")) view = el("video", { src: url, controls: true });
  return el("figure", { class: "file" }, view, el("figcaption", {}, el("a", { href: url, download: name, text: name }), ` ${type}`));
}

function showMetrics() {
  const rows = Object.entries(metrics).map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: JSON.stringify(v) })));
  $("metrics").replaceChildren(...rows);
}

function setStatus(status, text = status) {
  $("status").dataset.status = status;
  $("status").textContent = text;
}

function showError(text) {
  $("error").hidden = false;
  $("error").textContent = text;
}

function clearOutput() {
  for (const id of ["output", "logs", "metrics", "json"]) $(id).replaceChildren();
  $("error").hidden = true;
  metrics = {};
}

async function showHealth() {
  const health = await fetch(api("health-check")).then((r) => r.json()).catch(() => null);
  $("health").textContent = health ? health.status : "unreachable";
  $("health").dataset.status = health ? health.status : "";
  return health;
}

$("form").addEventListener("submit", run);
$("cancel").addEventListener("click", cancel);
load();
