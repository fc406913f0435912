// Small helpers to build the page from code (no HTML strings, so nothing needs escaping and the
// Content-Security-Policy never meets an inline handler or style).

import { t } from "./i18n.js";

/** An element: `props` holds class, text, on<Event> handlers, attributes and dataset. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === "value") el.value = value;
    else if (name === "checked" || name === "disabled" || name === "selected" || name === "hidden") el[name] = Boolean(value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A table: `columns` are {label, cell(row) -> node|text, num?: true}. */
export function table(columns, rows, { empty, caption, rowClass } = {}) {
  if (!rows.length) return h("p", { class: "empty", text: empty || t("common.empty") });
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", { text: caption }) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null, scope: "col", text: c.label })))),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h("tr", { class: rowClass ? rowClass(row) : null }, columns.map((c) => h("td", { class: c.num ? "num" : null }, c.cell(row)))),
        ),
      ),
    ),
  );
}

/** A labelled form field; the error slot under it shows the server's message for the field. */
export function field(label, input, { hint, name } = {}) {
  const id = input.id || `f-${name || Math.random().toString(36).slice(2)}`;
  input.id = id;
  return h(
    "div",
    { class: "field", dataset: name ? { field: name } : undefined },
    h("label", { for: id, text: label }),
    input,
    hint ? h("small", { class: "hint", text: hint }) : null,
    h("div", { class: "field-error", role: "alert" }),
  );
}

export function fieldError(form, name, error) {
  const slot = form.querySelector(`[data-field="${name}"] .field-error`);
  if (slot) showError(slot, error);
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll(".field-error, .form-error")) slot.replaceChildren();
}

/** Shows an API or network error: the localized message first, the technical detail under it. */
export function showError(slot, error) {
  if (!error) {
    slot.replaceChildren();
    return;
  }
  const message = error.status ? error.message : t("common.network_error");
  clear(
    slot,
    h("span", { class: "error-message", text: message }),
    error.detail ? h("small", { class: "error-detail", text: error.detail }) : null,
  );
}

export function errorBox(error) {
  const box = h("div", { class: "alert error", role: "alert" });
  showError(box, error);
  return box;
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", { text: title }), children);
}

export function stat(label, value, { tone, testid } = {}) {
  return h(
    "div",
    { class: `stat ${tone || ""}`.trim(), dataset: testid ? { stat: testid } : undefined },
    h("div", { class: "stat-label", text: label }),
    h("div", { class: "stat-value", text: value }),
  );
}

export function select(options, value, props = {}) {
  return h(
    "select",
    props,
    options.map(([v, label]) => h("option", { value: v, selected: v === value, text: label })),
  );
}

/** Saves a Blob under a file name through a temporary link. */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, class: "hidden-link" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A short-lived note at the bottom of the screen. */
export function toast(text, tone = "ok") {
  const note = h("div", { class: `toast ${tone}`, role: "status", text });
  document.body.append(note);
  setTimeout(() => note.remove(), 4000);
}

/** Runs an async action with its button disabled meanwhile. */
export async function busy(button, action) {
  button.disabled = true;
  try {
    return await action();
  } finally {
    button.disabled = false;
  }
}

/** Cursor paging: `load(after)` resolves with {items, next}; renders items and Previous/Next. */
export function pager(container, load, render) {
  const cursors = [null];
  let index = 0;
  const body = h("div");
  const previous = h("button", { type: "button", class: "secondary", text: t("common.previous") });
  const next = h("button", { type: "button", class: "secondary", text: t("common.next") });
  const position = h("span", { class: "page-number" });
  const error = h("div");
  let nextCursor = null;
  async function show() {
    error.replaceChildren();
    try {
      const page = await load(cursors[index]);
      nextCursor = page.next || null;
      clear(body, render(page.items, page));
      previous.disabled = index === 0;
      next.disabled = !nextCursor;
      position.textContent = t("common.page_n", { n: index + 1 });
    } catch (e) {
      clear(error, errorBox(e));
    }
  }
  previous.addEventListener("click", () => {
    if (index > 0) {
      index -= 1;
      show();
    }
  });
  next.addEventListener("click", () => {
    if (nextCursor) {
      cursors[index + 1] = nextCursor;
      index += 1;
      show();
    }
  });
  clear(container, error, body, h("div", { class: "pager" }, previous, position, next));
  show();
  return { reload: () => show(), first: () => { index = 0; cursors.length = 1; return show(); } };
}
