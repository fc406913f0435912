// Tenant admin: downloads, statements and the plan advisor.

import * as api from "../api.js";
import { t, money, number, month, LANGUAGES, lang } from "../i18n.js";
import { h, clear, table, section, field, select, errorBox, busy, saveBlob } from "../dom.js";
import * as labels from "../labels.js";
import { tenantPath, today, firstOfMonth, thisMonth, previousMonth } from "./common.js";

function download(ctx, { id, title, note, path, accept, fallbackName, withRange = true, withMonth = false, extended = false }) {
  const zone = ctx.info.timezone;
  const from = h("input", { type: "date", value: firstOfMonth(zone), required: true });
  const to = h("input", { type: "date", value: today(zone), required: true });
  const monthInput = h("input", { type: "month", value: thisMonth(zone), required: true });
  const extendedBox = h("input", { type: "checkbox" });
  const button = h("button", { type: "submit", text: t("reports.download") });
  const error = h("div", { role: "alert" });
  const form = h(
    "form",
    { class: "card download", id: `download-${id}` },
    h("h2", { text: title }),
    h("p", { class: "note", text: note }),
    h(
      "div",
      { class: "inline-form" },
      withRange ? [field(t("common.from"), from), field(t("common.to"), to)] : null,
      withMonth ? field(t("reports.month"), monthInput) : null,
      extended ? h("label", { class: "check" }, extendedBox, " ", t("reports.extended")) : null,
      button,
    ),
    error,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    error.replaceChildren();
    const params = {};
    if (withRange) Object.assign(params, { from: from.value, to: to.value });
    if (withMonth) params.month = monthInput.value;
    if (extended && extendedBox.checked) params.extended = "true";
    busy(button, async () => {
      try {
        const file = await api.file(tenantPath(ctx, `${path}${api.query(params)}`), { accept });
        saveBlob(file.blob, file.name || fallbackName(params));
      } catch (e) {
        clear(error, errorBox(e));
      }
    });
  });
  return form;
}

export async function reports(ctx) {
  const tenant = ctx.tenant;
  return h(
    "div",
    { class: "stack" },
    h(
      "div",
      { class: "columns" },
      download(ctx, {
        id: "pstn",
        title: t("reports.pstn_title"),
        note: t("reports.pstn_note"),
        path: "/reports/pstn-usage",
        accept: "text/csv",
        extended: true,
        fallbackName: (p) => `pstn-usage-${tenant}-${p.from}.csv`,
      }),
      download(ctx, {
        id: "dial-out",
        title: t("reports.dialout_title"),
        note: t("reports.dialout_note"),
        path: "/reports/dial-out-usage",
        accept: "application/json",
        fallbackName: (p) => `dial-out-usage-${tenant}-${p.from}.json`,
      }),
      download(ctx, {
        id: "pool",
        title: t("reports.pool_title"),
        note: t("reports.pool_note"),
        path: "/reports/pool",
        accept: "application/json",
        withRange: false,
        withMonth: true,
        fallbackName: (p) => `pool-${tenant}-${p.month}.json`,
      }),
      download(ctx, {
        id: "refused",
        title: t("reports.refused_title"),
        note: t("reports.refused_note"),
        path: "/reports/refused",
        accept: "application/json",
        fallbackName: (p) => `refused-${tenant}-${p.from}.json`,
      }),
    ),
    statements(ctx),
    advisor(ctx),
  );
}

// ---------------------------------------------------------------------------------------------
// Statements
// ---------------------------------------------------------------------------------------------

function statements(ctx) {
  const zone = ctx.info.timezone;
  const monthInput = h("input", { type: "month", name: "month", value: previousMonth(thisMonth(zone)), required: true });
  const language = select(LANGUAGES.map((l) => [l.code, l.name]), lang(), { name: "lang" });
  const openHtml = h("button", { type: "button", text: t("statements.open_html") });
  const pdf = h("button", { type: "button", class: "secondary", text: t("statements.download_pdf") });
  const error = h("div", { role: "alert" });
  const path = (format) => tenantPath(ctx, `/statements/${api.enc(monthInput.value)}${api.query({ format, lang: language.value })}`);
  openHtml.addEventListener("click", () =>
    busy(openHtml, async () => {
      error.replaceChildren();
      // The window is opened before the request so that no pop-up blocker stops it.
      const view = window.open("", "_blank");
      try {
        const file = await api.file(path("html"), { accept: "text/html" });
        const url = URL.createObjectURL(new Blob([file.blob], { type: "text/html;charset=utf-8" }));
        if (view) view.location.href = url;
        else window.location.assign(url);
      } catch (e) {
        if (view) view.close();
        clear(error, errorBox(e));
      }
    }),
  );
  pdf.addEventListener("click", () =>
    busy(pdf, async () => {
      error.replaceChildren();
      try {
        const file = await api.file(path("pdf"), { accept: "application/pdf" });
        saveBlob(file.blob, file.name || `statement-${ctx.tenant}-${monthInput.value}-${language.value}.pdf`);
      } catch (e) {
        clear(error, errorBox(e));
      }
    }),
  );
  return section(
    t("statements.title"),
    h("p", { class: "note", text: t("statements.note") }),
    h("div", { class: "inline-form", id: "statement-form" }, field(t("reports.month"), monthInput), field(t("statements.language"), language), openHtml, pdf),
    error,
  );
}

// ---------------------------------------------------------------------------------------------
// Plan advisor
// ---------------------------------------------------------------------------------------------

function advisor(ctx) {
  const zone = ctx.info.timezone;
  const last = previousMonth(thisMonth(zone));
  const from = h("input", { type: "month", value: previousMonth(previousMonth(last)), required: true });
  const to = h("input", { type: "month", value: last, required: true });
  const button = h("button", { type: "submit", text: t("advice.run") });
  const output = h("div", { id: "advice-result" });
  const form = h("form", { class: "inline-form" }, field(t("common.from"), from), field(t("common.to"), to), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(button, async () => {
      clear(output, h("p", { class: "loading", text: t("common.loading") }));
      try {
        clear(output, adviceView(await api.get(tenantPath(ctx, `/advice${api.query({ from: from.value, to: to.value })}`))));
      } catch (e) {
        clear(output, errorBox(e));
      }
    });
  });
  return section(t("advice.title"), h("p", { class: "note", text: t("advice.intro") }), form, output);
}

const SCENARIOS = {
  actual: () => t("advice.scenario_current"),
  all_ppm: () => t("advice.scenario_all_ppm"),
  all_subscription: () => t("advice.scenario_all_subscription"),
  cheapest: () => t("advice.scenario_cheapest_mix"),
};

function scenarioName(id) {
  return SCENARIOS[id] ? SCENARIOS[id]() : id;
}

/** The advice: each scenario's licenses, usage and total, the saving, and each user's best plan. */
function adviceView(a) {
  const currency = a.currency;
  const scenarios = Object.keys(SCENARIOS)
    .filter((id) => a.scenarios && a.scenarios[id])
    .map((id) => ({ id, ...a.scenarios[id] }));
  const amount = (value) => (value === null || value === undefined ? "—" : money(value, currency));
  const available = (s, value) => (s.available === false ? "—" : amount(value));
  const plan = (sku, credits) => (sku ? labels.license(sku) + (credits ? ` + ${labels.license("MCOPSTNPP")}` : "") : "—");
  return h(
    "div",
    { class: "stack" },
    table(
      [
        { label: t("advice.scenario"), cell: (s) => scenarioName(s.id) },
        { label: t("advice.license_cost"), num: true, cell: (s) => available(s, s.license_cost) },
        { label: t("advice.usage_cost"), num: true, cell: (s) => available(s, s.usage_cost) },
        {
          label: t("advice.total"),
          num: true,
          cell: (s) => (s.available === false ? t("advice.unavailable", { reason: labels.reason(s.unavailable_reason) }) : amount(s.total)),
        },
      ],
      scenarios,
    ),
    h("p", { class: "verdict-line", text: t("advice.best_saving", { amount: amount(a.saving), scenario: scenarioName("cheapest") }) }),
    a.missing_prices && a.missing_prices.length
      ? h("div", { class: "alert warn", text: t("advice.missing_prices", { licenses: a.missing_prices.map(labels.license).join(", ") }) })
      : null,
    table(
      [
        { label: t("common.organizer"), cell: (u) => u.display_name || u.upn },
        { label: t("advice.current"), cell: (u) => plan(u.current, false) },
        { label: t("advice.recommendation"), cell: (u) => plan(u.recommended, u.credits_license) },
        { label: t("common.minutes"), num: true, cell: (u) => number(u.minutes) },
        { label: t("advice.cost_actual"), num: true, cell: (u) => amount(u.actual_usage_cost) },
        { label: t("advice.scenario_all_ppm"), num: true, cell: (u) => amount(u.cost_ppm) },
        { label: t("advice.scenario_all_subscription"), num: true, cell: (u) => amount(u.cost_subscription) },
        { label: t("advice.cost_recommended"), num: true, cell: (u) => amount(u.cost_recommended) },
      ],
      a.users || [],
    ),
  );
}

export { number, month };
