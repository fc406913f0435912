// The JSON API client: every request carries the signed-in key and the console's language,
// so refusals come back with a message in that language.

let key = null;
let language = "en";

export function setKey(value) {
  key = value;
}

export function setLanguage(value) {
  language = value;
}

/** An API refusal: `code` is the stable machine code, `message` is localized by the server. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_" + status;
    this.detail = error.detail || null;
    this.rule = error.rule || null;
    this.body = body;
  }
}

function headers(extra) {
  const all = { "Accept-Language": language, ...extra };
  if (key) all.Authorization = `Bearer ${key}`;
  return all;
}

/** A raw request; the answer is returned whatever its status. */
export async function raw(method, path, { body, contentType, accept } = {}) {
  const extra = {};
  if (contentType) extra["Content-Type"] = contentType;
  if (accept) extra.Accept = accept;
  return fetch(path, { method, headers: headers(extra), body, cache: "no-store" });
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return new ApiError(response.status, body);
}

/** A JSON request; resolves with the parsed answer or rejects with an ApiError. */
export async function call(method, path, payload) {
  const options = {};
  if (payload !== undefined) {
    options.body = JSON.stringify(payload);
    options.contentType = "application/json";
  }
  const response = await raw(method, path, { ...options, accept: "application/json" });
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path) => call("GET", path);
export const put = (path, payload) => call("PUT", path, payload);
export const post = (path, payload) => call("POST", path, payload);
export const del = (path) => call("DELETE", path);

/** A request whose answer is a file: resolves with its bytes as a Blob and its name. */
export async function file(path, { accept, method = "GET", body, contentType } = {}) {
  const response = await raw(method, path, { accept, body, contentType });
  if (!response.ok) throw await failure(response);
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="?([^";]+)"?/.exec(disposition);
  return { blob, name: match ? match[1] : null, type: response.headers.get("Content-Type") };
}

/** A text answer (CSV, metrics) with the status checked. */
export async function text(path, accept) {
  const response = await raw("GET", path, { accept });
  if (!response.ok) throw await failure(response);
  return response.text();
}

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const enc = encodeURIComponent;
