// Operator: tenants, rate cards, rate lookup, the country table, license prices, the toll-fraud
// guard, keys, health.

import * as api from "../api.js";
import { t, money, rate, number, dateTime } from "../i18n.js";
import { h, clear, table, section, field, select, showError, clearErrors, errorBox, busy, toast, saveBlob, pager, stat } from "../dom.js";
import * as labels from "../labels.js";

// ---------------------------------------------------------------------------------------------
// Tenants
// ---------------------------------------------------------------------------------------------

async function tenants(ctx) {
  const list = h("div");
  const show = () =>
    pager(
      list,
      async (after) => {
        const page = await api.get(`/v1/tenants${api.query({ limit: 50, after })}`);
        return { items: page.tenants, next: page.next };
      },
      (items) =>
        table(
          [
            { label: t("tenants.id"), cell: (x) => x.id },
            { label: t("tenants.name"), cell: (x) => x.name },
            { label: t("tenants.country"), cell: (x) => x.country },
            { label: t("tenants.currency"), cell: (x) => x.currency },
            { label: t("tenants.timezone"), cell: (x) => x.timezone },
            { label: t("tenants.agreement"), cell: (x) => labels.agreement(x.agreement) },
            { label: "", cell: (x) => h("button", { type: "button", class: "link", text: t("tenants.open"), onclick: () => ctx.openTenant(x.id) }) },
          ],
          items,
          { empty: t("tenants.none") },
        ),
    );
  show();
  return h("div", { class: "stack" }, section(t("tenants.title"), list), tenantForm(ctx, show), tenantFileForm(ctx));
}

function tenantForm(ctx, done) {
  const id = h("input", { name: "id", required: true, autocomplete: "off" });
  const name = h("input", { name: "name", required: true, autocomplete: "off" });
  const country = h("input", { name: "country", required: true, maxlength: "2", class: "narrow" });
  const currency = h("input", { name: "currency", required: true, maxlength: "3", class: "narrow", value: "EUR" });
  const timezone = h("input", { name: "timezone", placeholder: "Europe/Paris" });
  const agreement = select(labels.AGREEMENT_IDS.map((a) => [a, labels.agreement(a)]), "volume_licensing");
  const button = h("button", { type: "submit", text: t("tenants.create") });
  const error = h("div", { class: "form-error", role: "alert" });
  const form = h(
    "form",
    { class: "inline-form" },
    field(t("tenants.id"), id, { name: "id" }),
    field(t("tenants.name"), name, { name: "name" }),
    field(t("tenants.country"), country, { name: "country" }),
    field(t("tenants.currency"), currency, { name: "currency" }),
    field(t("tenants.timezone"), timezone, { name: "timezone" }),
    field(t("tenants.agreement"), agreement, { name: "agreement" }),
    button,
    error,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = { id: id.value.trim(), name: name.value.trim(), country: country.value.trim().toUpperCase(), currency: currency.value.trim().toUpperCase(), agreement: agreement.value };
    if (timezone.value.trim()) body.timezone = timezone.value.trim();
    busy(button, async () => {
      try {
        await api.post("/v1/tenants", body);
        toast(t("tenants.created", { id: body.id }));
        form.reset();
        done();
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return section(t("tenants.create_title"), form);
}

function tenantFileForm(ctx) {
  const id = h("input", { name: "tenant", required: true });
  const file = h("input", { type: "file", accept: ".toml,text/plain", required: true });
  const button = h("button", { type: "submit", text: t("tenants.apply") });
  const output = h("div", { role: "status" });
  const form = h("form", { class: "inline-form" }, field(t("tenants.id"), id), field(t("tenants.file"), file), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!file.files[0]) return;
    busy(button, async () => {
      try {
        const text = await file.files[0].text();
        const response = await api.raw("PUT", `/v1/tenants/${api.enc(id.value.trim())}/file`, { body: text, contentType: "application/toml", accept: "application/json" });
        const body = await response.json();
        if (!response.ok) throw new api.ApiError(response.status, body);
        const changes = body.changes || [];
        clear(output, h("p", { text: t("tenants.applied", { n: number(changes.length) }) }), changes.length ? h("ul", {}, changes.map((c) => h("li", { text: typeof c === "string" ? c : JSON.stringify(c) }))) : null);
      } catch (e) {
        clear(output, errorBox(e));
      }
    });
  });
  return section(t("tenants.file_title"), h("p", { class: "note", text: t("tenants.file_note") }), form, output);
}

// ---------------------------------------------------------------------------------------------
// Rate cards
// ---------------------------------------------------------------------------------------------

/** The rows of an import refusal: "line N, column C: message" items in the detail. */
export function rowErrors(error) {
  const rows = error.body && error.body.error && Array.isArray(error.body.error.rows) ? error.body.error.rows : null;
  if (rows) return rows.map((r) => ({ line: r.line, column: r.column, message: r.message || r.reason }));
  const detail = error.detail || "";
  const found = [];
  const pattern = /line (\d+)(?:, column ([^:]+))?: (.*?)(?=; line \d+|$)/g;
  let m;
  while ((m = pattern.exec(detail))) found.push({ line: Number(m[1]), column: m[2] || "", message: m[3] });
  return found;
}

async function rateCards(ctx) {
  // The import form stays in place across refreshes so that its result stays visible.
  const versions = h("div");
  const diff = h("div");
  const refresh = async () => {
    const data = await api.get("/v1/rate-cards");
    clear(versions, versionsSection(data));
    clear(diff, diffForm(data));
  };
  await refresh();
  return h("div", { class: "stack" }, versions, importForm(refresh), diff);
}

function versionsSection(data) {
  const rows = data.cards.flatMap((c) => c.versions.map((v) => ({ currency: c.currency, ...v })));
  return section(
    t("rates.versions"),
    table(
      [
        { label: t("tenants.currency"), cell: (r) => r.currency },
        { label: t("rates.effective_from"), cell: (r) => dateTime(r.effective_from, "UTC") },
        { label: t("rates.entries"), num: true, cell: (r) => number(r.entries) },
      ],
      rows,
      { empty: t("rates.none") },
    ),
    h(
      "div",
      { class: "inline" },
      data.cards.map((c) =>
        h("button", {
          type: "button",
          class: "secondary",
          text: t("rates.download_csv", { currency: c.currency }),
          onclick: async () => {
            const file = await api.file(`/v1/rate-cards/${api.enc(c.currency)}`, { accept: "text/csv" });
            saveBlob(file.blob, file.name || `rates-${c.currency}.csv`);
          },
        }),
      ),
    ),
  );
}

function importForm(refresh) {
  const currency = h("input", { name: "currency", required: true, maxlength: "3", class: "narrow", value: "EUR" });
  const file = h("input", { type: "file", name: "file", accept: ".csv,text/csv", required: true });
  const replace = h("input", { type: "checkbox", name: "replace" });
  const button = h("button", { type: "submit", text: t("rates.import") });
  const output = h("div", { id: "import-result", role: "status" });
  const form = h(
    "form",
    { class: "inline-form", id: "import-form" },
    field(t("tenants.currency"), currency, { name: "currency" }),
    field(t("rates.file"), file, { name: "file" }),
    h("label", { class: "check", title: t("rates.replace_hint") }, replace, " ", t("rates.replace")),
    button,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!file.files[0]) return;
    busy(button, async () => {
      clear(output);
      try {
        const text = await file.files[0].text();
        const path = `/v1/rate-cards/${api.enc(currency.value.trim().toUpperCase())}${api.query({ replace: replace.checked ? "true" : "" })}`;
        const response = await api.raw("POST", path, { body: text, contentType: "text/csv", accept: "application/json" });
        const body = await response.json().catch(() => null);
        if (!response.ok) throw new api.ApiError(response.status, body);
        const replaced = body.replaced || [];
        clear(
          output,
          h("p", { class: "ok-line", text: t("rates.imported", { added: number(body.added.length), unchanged: number(body.unchanged.length) }) }),
          replaced.length ? h("p", { class: "ok-line", text: t("rates.replaced", { n: number(replaced.length), versions: replaced.map((v) => dateTime(v, "UTC")).join(", ") }) }) : null,
          replaced.length ? h("p", { class: "note", text: t("rates.replaced_note") }) : null,
        );
        await refresh();
      } catch (e) {
        showRefusal(output, e);
      }
    });
  });
  return section(t("rates.import_title"), h("p", { class: "note", text: t("rates.import_note") }), form, output);
}

function diffForm(data) {
  const options = data.cards.flatMap((c) => c.versions.map((v) => [`${c.currency}|${v.effective_from}`, `${c.currency} · ${v.effective_from}`]));
  const from = select(options, options[0] ? options[0][0] : "");
  const to = select(options, options.length ? options[options.length - 1][0] : "");
  const button = h("button", { type: "submit", text: t("rates.compare") });
  const output = h("div");
  const form = h("form", { class: "inline-form" }, field(t("rates.diff_from"), from), field(t("rates.diff_to"), to), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const [currency, a] = from.value.split("|");
    const [, b] = to.value.split("|");
    busy(button, async () => {
      try {
        const diff = await api.get(`/v1/rate-cards/${api.enc(currency)}/diff${api.query({ from: a, to: b })}`);
        const entry = (e) => `${e.kind} ${e.key}${e.origin ? ` ← ${e.origin}` : ""} · ${e.name}`;
        const line = (e) => `${rate(e.rate_per_minute, currency)} · ${e.first_block_s}/${e.increment_s}`;
        const rows = [
          ...diff.added.map((e) => ({ change: t("rates.added"), entry: entry(e), before: "", after: line(e) })),
          ...diff.removed.map((e) => ({ change: t("rates.removed"), entry: entry(e), before: line(e), after: "" })),
          ...diff.changed.map((c) => ({ change: t("rates.changed"), entry: entry(c.after), before: line(c.before), after: line(c.after) })),
        ];
        clear(
          output,
          table(
            [
              { label: t("rates.change"), cell: (r) => r.change },
              { label: t("rates.entry"), cell: (r) => r.entry },
              { label: t("rates.before"), cell: (r) => r.before },
              { label: t("rates.after"), cell: (r) => r.after },
            ],
            rows,
            { empty: t("rates.no_difference") },
          ),
        );
      } catch (e) {
        clear(output, errorBox(e));
      }
    });
  });
  return section(t("rates.diff_title"), form, output);
}

// ---------------------------------------------------------------------------------------------
// Rate lookup
// ---------------------------------------------------------------------------------------------

async function lookup() {
  const cards = await api.get("/v1/rate-cards");
  const currency = select(cards.cards.map((c) => [c.currency, c.currency]), cards.cards[0] ? cards.cards[0].currency : "");
  const numberInput = h("input", { name: "number", required: true, placeholder: "+81 3 1234 5678" });
  const kind = select([["dial_out", labels.category("dial_out")], ["dial_in_toll", labels.category("dial_in_toll")], ["dial_in_toll_free", labels.category("dial_in_toll_free")]], "dial_out");
  const origin = h("input", { name: "origin", maxlength: "2", class: "narrow" });
  const button = h("button", { type: "submit", text: t("lookup.run") });
  const output = h("div");
  const form = h("form", { class: "inline-form" }, field(t("tenants.currency"), currency), field(t("lookup.number"), numberInput), field(t("lookup.kind"), kind), field(t("lookup.origin"), origin, { hint: t("lookup.origin_hint") }), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(button, async () => {
      try {
        const r = await api.get(`/v1/rate-lookup${api.query({ currency: currency.value, number: numberInput.value.trim(), kind: kind.value, origin: origin.value.trim().toUpperCase() })}`);
        const e = r.entry;
        clear(
          output,
          section(
            `${e.name} (${e.country})`,
            h(
              "dl",
              { class: "facts" },
              [
                [t("lookup.number"), r.number],
                [t("lookup.entry"), `${e.kind} ${e.key}${e.origin ? ` ← ${e.origin}` : ""}`],
                [t("explain.rate"), t("common.per_minute", { rate: rate(e.rate_per_minute, r.currency) })],
                [t("sim.connection_fee"), money(e.connection_fee, r.currency)],
                [t("lookup.increments"), `${e.first_block_s} s / ${e.increment_s} s`],
                [t("rates.effective_from"), dateTime(e.effective_from, "UTC")],
              ].map(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]),
            ),
            table(
              [
                { label: t("calls.duration"), cell: (c) => t("common.minutes_n", { n: number(c.duration_s / 60) }) },
                { label: t("lookup.billable"), num: true, cell: (c) => number(c.billable_s) },
                { label: t("lookup.cost"), num: true, cell: (c) => money(c.cost, r.currency) },
              ],
              r.costs,
            ),
          ),
        );
      } catch (e) {
        clear(output, errorBox(e));
      }
    });
  });
  return h("div", { class: "stack" }, section(t("lookup.title"), form), output);
}

// ---------------------------------------------------------------------------------------------
// Country table
// ---------------------------------------------------------------------------------------------

async function countries() {
  const list = await api.get("/v1/countries");
  const filter = h("input", { type: "search", placeholder: t("countries.filter") });
  const body = h("div");
  const availability = (v) => ({ yes: t("common.yes"), no: t("common.no"), on_request: t("countries.on_request"), ppm_only: t("countries.ppm_only") })[v] || v;
  const render = () => {
    const q = filter.value.trim().toLowerCase();
    clear(
      body,
      table(
        [
          { label: "ISO", cell: (c) => c.iso2 },
          { label: t("countries.name"), cell: (c) => c.name },
          { label: t("countries.zone_a"), cell: (c) => (c.zone_a ? t("common.yes") : t("common.no")) },
          { label: t("countries.conferencing"), cell: (c) => availability(c.conferencing) },
          { label: t("countries.toll"), cell: (c) => availability(c.toll_dial_in) },
          { label: t("countries.toll_free"), cell: (c) => availability(c.toll_free_dial_in) },
          { label: t("countries.credits"), cell: (c) => (c.communications_credits ? t("common.yes") : t("common.no")) },
        ],
        list.filter((c) => !q || `${c.iso2} ${c.name}`.toLowerCase().includes(q)),
      ),
    );
  };
  filter.addEventListener("input", render);
  render();
  const file = h("input", { type: "file", accept: ".csv,text/csv", required: true });
  const button = h("button", { type: "submit", text: t("countries.replace") });
  const output = h("div", { role: "status" });
  const form = h("form", { class: "inline-form" }, field(t("rates.file"), file), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!file.files[0] || !confirm(t("countries.replace_confirm"))) return;
    busy(button, async () => {
      try {
        const response = await api.raw("PUT", "/v1/countries", { body: await file.files[0].text(), contentType: "text/csv", accept: "application/json" });
        const result = await response.json().catch(() => null);
        if (!response.ok) throw new api.ApiError(response.status, result);
        clear(output, h("p", { class: "ok-line", text: t("countries.replaced", { n: number(result.countries) }) }));
      } catch (e) {
        const rows = rowErrors(e);
        clear(output, errorBox(e), rows.length ? table([{ label: t("rates.line"), num: true, cell: (r) => number(r.line) }, { label: t("rates.column"), cell: (r) => r.column }, { label: t("rates.problem"), cell: (r) => r.message }], rows) : null);
      }
    });
  });
  const download = h("button", {
    type: "button",
    class: "secondary",
    text: t("countries.download"),
    onclick: async () => {
      const f = await api.file("/v1/countries", { accept: "text/csv" });
      saveBlob(f.blob, f.name || "countries.csv");
    },
  });
  return h("div", { class: "stack" }, section(t("countries.title"), h("div", { class: "inline" }, filter, download), body), section(t("countries.replace_title"), h("p", { class: "note", text: t("countries.replace_note") }), form, output));
}

// ---------------------------------------------------------------------------------------------
// License prices
// ---------------------------------------------------------------------------------------------

async function prices() {
  const root = h("div", { class: "stack" });
  const refresh = async () => {
    const data = await api.get("/v1/license-prices");
    clear(root, data.currencies.map((c) => priceForm(c, refresh)), priceForm({ currency: "", prices: {} }, refresh));
  };
  await refresh();
  return root;
}

function priceForm(entry, refresh) {
  const currency = h("input", { maxlength: "3", class: "narrow", value: entry.currency, required: true, readonly: entry.currency ? true : null });
  const inputs = labels.SKUS.map((sku) => [sku, h("input", { inputmode: "decimal", value: entry.prices[sku] || "", class: "narrow" })]);
  const button = h("button", { type: "submit", text: t("common.save") });
  const error = h("div", { class: "form-error", role: "alert" });
  const form = h(
    "form",
    { class: "inline-form" },
    field(t("tenants.currency"), currency),
    inputs.map(([sku, input]) => field(`${labels.license(sku)} (${sku})`, input)),
    button,
    error,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { prices: Object.fromEntries(inputs.filter(([, i]) => i.value.trim()).map(([sku, i]) => [sku, i.value.trim()])) };
    busy(button, async () => {
      try {
        await api.put(`/v1/license-prices/${api.enc(currency.value.trim().toUpperCase())}`, body);
        toast(t("common.saved"));
        await refresh();
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return section(entry.currency ? t("prices.title_currency", { currency: entry.currency }) : t("prices.add_currency"), h("p", { class: "note", text: t("prices.note") }), form);
}

// ---------------------------------------------------------------------------------------------
// Toll-fraud guard: the tenants' default mode and the high-risk list
// ---------------------------------------------------------------------------------------------

async function fraudSettings() {
  // Only the fields shown are read: others the answer may carry are left alone.
  const figures = h("div", { id: "guard-figures" });
  const show = (o) => {
    clear(
      figures,
      h(
        "div",
        { class: "stats" },
        stat(t("guard.default_mode"), labels.guardMode(o.default_mode), { testid: "default-mode" }),
        stat(t("guard.list_version"), number(o.list_version), { testid: "list-version" }),
        stat(t("guard.list_entries"), number(o.list_entries), { testid: "list-entries" }),
      ),
    );
    return o;
  };
  const current = show(await api.get("/v1/fraud"));
  return h("div", { class: "stack" }, h("p", { class: "subtle", text: t("guard.intro") }), figures, guardModeForm(current, show), guardListForm(show));
}

function guardModeForm(current, show) {
  const mode = select(labels.GUARD_MODE_IDS.map((m) => [m, labels.guardMode(m)]), current.default_mode, { name: "default_mode" });
  const button = h("button", { type: "submit", text: t("common.save") });
  const error = h("div", { class: "form-error", role: "alert" });
  const form = h("form", { class: "inline-form", id: "guard-mode-form" }, field(t("guard.default_mode"), mode, { name: "default_mode" }), button, error);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    busy(button, async () => {
      try {
        const o = show(await api.put("/v1/fraud", { default_mode: mode.value }));
        toast(t("guard.mode_saved", { mode: labels.guardMode(o.default_mode) }));
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return section(t("guard.mode_title"), h("p", { class: "subtle", text: t("guard.mode_intro") }), form);
}

function guardListForm(show) {
  const file = h("input", { type: "file", name: "file", accept: ".csv,text/csv", required: true });
  const button = h("button", { type: "submit", text: t("guard.upload") });
  const output = h("div", { id: "guard-list-result", role: "status" });
  const download = h("button", {
    type: "button",
    class: "secondary",
    text: t("guard.download"),
    onclick: async () => {
      try {
        const f = await api.file("/v1/fraud/list", { accept: "text/csv" });
        saveBlob(f.blob, f.name || "high-risk-list.csv");
      } catch (e) {
        clear(output, errorBox(e));
      }
    },
  });
  const form = h("form", { class: "inline-form", id: "guard-list-form" }, field(t("rates.file"), file, { name: "file" }), button, download);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!file.files[0]) return;
    busy(button, async () => {
      clear(output);
      try {
        const response = await api.raw("PUT", "/v1/fraud/list", { body: await file.files[0].text(), contentType: "text/csv", accept: "application/json" });
        const body = await response.json().catch(() => null);
        if (!response.ok) throw new api.ApiError(response.status, body);
        show(body);
        clear(output, h("p", { class: "ok-line", text: t("guard.uploaded", { version: number(body.list_version), n: number(body.list_entries) }) }));
      } catch (e) {
        showRefusal(output, e);
      }
    });
  });
  return section(t("guard.list_title"), h("p", { class: "note", text: t("guard.list_note") }), form, output);
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

async function keys() {
  const list = h("div");
  const kindName = (k) => ({ operator: t("kind.operator"), tenant_admin: t("kind.tenant_admin"), bridge: t("kind.bridge") })[k] || k;
  const show = () =>
    pager(
      list,
      async (after) => {
        const page = await api.get(`/v1/keys${api.query({ limit: 50, after })}`);
        return { items: page.keys, next: page.next };
      },
      (items) =>
        table(
          [
            { label: t("keys.id"), cell: (k) => k.id },
            { label: t("keys.kind"), cell: (k) => kindName(k.kind) },
            { label: t("keys.tenant"), cell: (k) => k.tenant || "—" },
            { label: t("keys.label"), cell: (k) => k.label },
            { label: t("keys.created"), cell: (k) => dateTime(k.created_at) },
            { label: t("keys.state"), cell: (k) => (k.revoked_at ? t("keys.revoked_at", { at: dateTime(k.revoked_at) }) : t("keys.live")) },
            {
              label: "",
              cell: (k) =>
                k.revoked_at
                  ? ""
                  : h("button", {
                      type: "button",
                      class: "link danger",
                      text: t("keys.revoke"),
                      onclick: async () => {
                        if (!confirm(t("keys.revoke_confirm", { id: k.id }))) return;
                        await api.del(`/v1/keys/${api.enc(k.id)}`);
                        show();
                      },
                    }),
            },
          ],
          items,
        ),
    );
  show();
  const kind = select([["tenant_admin", kindName("tenant_admin")], ["bridge", kindName("bridge")], ["operator", kindName("operator")]], "tenant_admin");
  const tenant = h("input", { name: "tenant" });
  const label = h("input", { name: "label", required: true });
  const button = h("button", { type: "submit", text: t("keys.create") });
  const output = h("div", { role: "status" });
  const form = h("form", { class: "inline-form" }, field(t("keys.kind"), kind), field(t("keys.tenant"), tenant), field(t("keys.label"), label), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { kind: kind.value, label: label.value.trim() };
    if (kind.value !== "operator") body.tenant = tenant.value.trim();
    busy(button, async () => {
      try {
        const created = await api.post("/v1/keys", body);
        clear(output, h("div", { class: "alert" }, h("p", { text: t("keys.shown_once") }), h("code", { class: "secret", text: created.key })));
        form.reset();
        show();
      } catch (e) {
        clear(output, errorBox(e));
      }
    });
  });
  return h("div", { class: "stack" }, section(t("keys.title"), list), section(t("keys.create_title"), form, output));
}

// ---------------------------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------------------------

async function probe(path) {
  try {
    const response = await fetch(path, { cache: "no-store" });
    return { ok: response.ok, text: (await response.text()).trim() || String(response.status) };
  } catch {
    return { ok: false, text: t("common.network_error") };
  }
}

function metricValue(lines, name) {
  let total = null;
  for (const line of lines) {
    if (line.startsWith(name + " ") || line.startsWith(name + "{")) total = (total || 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

async function health() {
  const root = h("div", { class: "stack" });
  const refresh = async () => {
    const [live, ready, metrics] = await Promise.all([probe("/healthz"), probe("/readyz"), api.text("/metrics").catch(() => "")]);
    const lines = metrics.split("\n").filter((l) => l && !l.startsWith("#"));
    const figure = (name, format = (v) => number(v)) => {
      const v = metricValue(lines, name);
      return v === null ? "—" : format(v);
    };
    const requests = metricValue(lines, "minutely_http_requests_total");
    const errors = lines.filter((l) => l.startsWith("minutely_http_requests_total") && /status="5\d\d"/.test(l)).reduce((s, l) => s + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
    clear(
      root,
      h(
        "div",
        { class: "stats" },
        stat(t("health.live"), live.ok ? t("health.ok") : live.text, { tone: live.ok ? "good" : "bad" }),
        stat(t("health.ready"), ready.ok ? t("health.ok") : ready.text, { tone: ready.ok ? "good" : "bad" }),
        stat(t("health.requests"), requests === null ? "—" : number(requests)),
        stat(t("health.server_errors"), number(errors)),
        stat(t("health.commits"), figure("minutely_commits_total")),
        stat(t("overview.live_calls"), figure("minutely_live_reservations")),
        stat(t("health.memory"), figure("process_resident_memory_bytes", (v) => number(v / 1048576, { maximumFractionDigits: 1 }) + " MiB")),
      ),
      h("p", { class: "subtle", text: t("health.checked_at", { time: dateTime(new Date().toISOString()) }) }),
    );
  };
  await refresh();
  const timer = setInterval(() => (root.isConnected ? refresh() : clearInterval(timer)), 5000);
  return root;
}

export const OPERATOR_PAGES = [
  { id: "tenants", group: "operator", label: () => t("nav.tenants"), render: tenants },
  { id: "rate-cards", group: "operator", label: () => t("nav.rate_cards"), render: rateCards },
  { id: "rate-lookup", group: "operator", label: () => t("nav.rate_lookup"), render: lookup },
  { id: "countries", group: "operator", label: () => t("nav.countries"), render: countries },
  { id: "license-prices", group: "operator", label: () => t("nav.license_prices"), render: prices },
  { id: "fraud-settings", group: "operator", label: () => t("nav.fraud_settings"), render: fraudSettings },
  { id: "keys", group: "operator", label: () => t("nav.keys"), render: keys },
  { id: "health", group: "operator", label: () => t("nav.health"), render: health },
];

// A refused CSV file in `output`: its bad rows as a table, or the error as it came when the
// refusal names no row (a version conflict, a bad currency, no header, not CSV).
function showRefusal(output, e) {
  const rows = rowErrors(e);
  if (!rows.length) {
    clear(output, errorBox(e));
    return;
  }
  clear(
    output,
    h("div", { class: "alert error", role: "alert" }, h("span", { class: "error-message", text: t("rates.refused", { n: number(rows.length) }) }), " ", h("small", { text: e.message })),
    table(
      [
        { label: t("rates.line"), num: true, cell: (r) => number(r.line) },
        { label: t("rates.column"), cell: (r) => r.column },
        { label: t("rates.problem"), cell: (r) => r.message },
      ],
      rows,
      { caption: t("rates.row_errors") },
    ),
  );
}
