// Tenant admin: overview, usage charts, calls with "why this charge", refused calls.

import * as api from "../api.js";
import { t, money, rate, number, dateTime, day, month, duration, decimalSum, percent } from "../i18n.js";
import { h, clear, table, section, stat, select, errorBox, field, pager } from "../dom.js";
import { stackedBars, horizontalBars, gauge } from "../charts.js";
import * as labels from "../labels.js";
import { tenantPath, today, firstOfMonth, thisMonth, daysBetween, csvObjects } from "./common.js";

const EXPIRY_WARNING_DAYS = 30;

// ---------------------------------------------------------------------------------------------
// Overview
// ---------------------------------------------------------------------------------------------

export async function overview(ctx) {
  const root = h("div", { class: "stack" });
  const refresh = async () => {
    try {
      clear(root, await overviewContent(ctx));
    } catch (error) {
      clear(root, errorBox(error));
    }
  };
  await refresh();
  const timer = setInterval(() => {
    if (!root.isConnected) clearInterval(timer);
    else refresh();
  }, 10_000);
  return root;
}

async function overviewContent(ctx) {
  const zone = ctx.info.timezone;
  const [wallet, lots, pool] = await Promise.all([
    api.get(tenantPath(ctx, "/wallet")),
    ctx.info.wallet_set_up ? api.get(tenantPath(ctx, "/wallet/lots?limit=100")) : Promise.resolve({ lots: [] }),
    api.get(tenantPath(ctx, `/reports/pool?month=${thisMonth(zone)}`)),
  ]);
  const currency = wallet.currency;
  const stats = h(
    "div",
    { class: "stats" },
    stat(t("wallet.balance"), money(wallet.balance, currency), { testid: "balance" }),
    stat(t("wallet.available"), money(wallet.available, currency), { testid: "available" }),
    stat(
      t("wallet.projected_depletion"),
      wallet.projected_depletion ? day(wallet.projected_depletion) : t("wallet.no_depletion"),
      { testid: "depletion" },
    ),
    stat(t("overview.live_calls"), number(wallet.live_reservations ?? 0), { testid: "live-calls" }),
    stat(t("overview.reserved"), money(wallet.reserved, currency)),
    wallet.debt && /[1-9]/.test(wallet.debt) ? stat(t("wallet.debt"), money(wallet.debt, currency), { tone: "bad" }) : null,
  );
  return [
    h("p", { class: "subtle", text: t("overview.tenant_line", { name: ctx.info.name, id: ctx.info.id, zone, currency }) }),
    stats,
    lotsSection(lots.lots, currency, zone),
    poolSection(pool),
    h("p", { class: "subtle", text: t("overview.as_of", { time: dateTime(wallet.as_of, zone) }) }),
  ];
}

function expiresSoon(lot) {
  const limit = Date.now() + EXPIRY_WARNING_DAYS * 86_400_000;
  return new Date(lot.expires_at).getTime() <= limit && /[1-9]/.test(lot.remaining);
}

export function lotsSection(lots, currency, zone) {
  const soon = lots.filter(expiresSoon);
  const warning = soon.length
    ? h("div", { class: "alert warn", role: "alert" }, t("overview.forfeit_ahead", {
        amount: money(decimalSum(soon.map((l) => l.remaining)), currency),
        count: number(soon.length),
        days: number(EXPIRY_WARNING_DAYS),
      }))
    : null;
  return section(
    t("overview.lots"),
    warning,
    table(
      [
        { label: t("lot.id"), cell: (l) => String(l.id) },
        { label: t("lot.funded_at"), cell: (l) => dateTime(l.funded_at, zone) },
        { label: t("lot.source"), cell: (l) => labels.lotSource(l.source) + (l.reference ? ` · ${l.reference}` : "") },
        { label: t("lot.amount"), num: true, cell: (l) => money(l.amount, currency) },
        { label: t("lot.remaining"), num: true, cell: (l) => money(l.remaining, currency) },
        {
          label: t("lot.expires_at"),
          cell: (l) => expiresSoon(l)
            ? h("span", { class: "tag warn" }, `${dateTime(l.expires_at, zone)} · ${t("lot.expires_soon")}`)
            : dateTime(l.expires_at, zone),
        },
      ],
      lots,
      { empty: t("overview.no_lots"), rowClass: (l) => (expiresSoon(l) ? "warn" : null) },
    ),
  );
}

function poolSection(pool) {
  const text = t("pool.gauge", { used: number(pool.used_minutes), size: number(pool.size_minutes) });
  return section(
    t("pool.title_month", { month: month(pool.month) }),
    h(
      "div",
      { class: "pool" },
      gauge({ used: pool.used_minutes, held: pool.held_minutes, size: pool.size_minutes, label: text }),
      h(
        "dl",
        { class: "facts" },
        h("dt", { text: t("pool.size") }), h("dd", { text: t("common.minutes_n", { n: number(pool.size_minutes) }) }),
        h("dt", { text: t("pool.used") }), h("dd", { text: t("common.minutes_n", { n: number(pool.used_minutes) }) }),
        h("dt", { text: t("pool.held") }), h("dd", { text: t("common.minutes_n", { n: number(pool.held_minutes) }) }),
        h("dt", { text: t("pool.remaining") }), h("dd", { text: t("common.minutes_n", { n: number(pool.remaining_minutes) }) }),
        h("dt", { text: t("pool.subscriptions") }), h("dd", { text: number(pool.purchased_subscriptions) }),
      ),
    ),
    pool.organizers && pool.organizers.length
      ? table(
          [
            { label: t("common.organizer"), cell: (o) => o.display_name || o.upn },
            { label: t("pool.used"), num: true, cell: (o) => number(o.used_minutes ?? o.minutes ?? 0) },
          ],
          pool.organizers,
        )
      : null,
  );
}

// ---------------------------------------------------------------------------------------------
// Usage charts
// ---------------------------------------------------------------------------------------------

function rangeForm(ctx, onSubmit, extra = []) {
  const zone = ctx.info.timezone;
  const from = h("input", { type: "date", name: "from", value: firstOfMonth(zone), required: true });
  const to = h("input", { type: "date", name: "to", value: today(zone), required: true });
  const form = h(
    "form",
    { class: "inline-form" },
    field(t("common.from"), from, { name: "from" }),
    field(t("common.to"), to, { name: "to" }),
    extra,
    h("button", { type: "submit", text: t("common.show") }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit({ from: from.value, to: to.value });
  });
  return form;
}

export async function usage(ctx) {
  const output = h("div", { class: "stack" });
  const metric = select([["minutes", t("usage.metric_minutes")], ["amount", t("usage.metric_cost")]], "minutes", { name: "metric" });
  let last = null;
  const show = async (range) => {
    last = range;
    clear(output, h("p", { class: "loading", text: t("common.loading") }));
    try {
      const data = await api.get(tenantPath(ctx, `/reports/usage-summary${api.query(range)}`));
      clear(output, usageCharts(data, range, metric.value));
    } catch (error) {
      clear(output, errorBox(error));
    }
  };
  metric.addEventListener("change", () => last && show(last));
  const form = rangeForm(ctx, show, [field(t("usage.metric"), metric, { name: "metric" })]);
  show({ from: firstOfMonth(ctx.info.timezone), to: today(ctx.info.timezone) });
  return h("div", { class: "stack" }, form, output);
}

function usageCharts(data, range, metric) {
  const currency = data.currency;
  const series = labels.CATEGORY_IDS.map((id) => ({ id, label: labels.category(id) }));
  const valueOf = (row) => (metric === "minutes" ? row.minutes : Number.parseFloat(row.amount));
  const show = (row) => (metric === "minutes" ? t("common.minutes_n", { n: number(row.minutes) }) : money(row.amount, currency));
  const axis = (v) => (metric === "minutes" ? number(v) : number(v, { maximumFractionDigits: 2 }));
  const byDay = new Map();
  for (const row of data.days) {
    if (!byDay.has(row.date)) byDay.set(row.date, []);
    byDay.get(row.date).push(row);
  }
  const bars = daysBetween(range.from, range.to).map((date) => {
    const rows = byDay.get(date) || [];
    return {
      label: day(date, "short").replace(/\/?\d{4}\/?|,? \d{4}|\d{4}年/, ""),
      parts: labels.CATEGORY_IDS.map((id) => {
        const row = rows.find((r) => r.category === id);
        return { series: id, value: row ? valueOf(row) : 0, title: row ? `${day(date)} · ${labels.category(id)}: ${show(row)}` : "" };
      }),
    };
  });
  const byCountry = new Map();
  for (const row of data.countries) {
    if (!byCountry.has(row.country)) byCountry.set(row.country, []);
    byCountry.get(row.country).push(row);
  }
  const countryName = new Intl.DisplayNames([document.documentElement.lang], { type: "region" });
  const nameOf = (code) => {
    try {
      return code ? countryName.of(code) : "—";
    } catch {
      return code;
    }
  };
  const TOP_COUNTRIES = 15;
  const rows = [...byCountry.entries()]
    .map(([code, list]) => ({ code, list, weight: list.reduce((sum, r) => sum + valueOf(r), 0) }))
    .sort((a, b) => b.weight - a.weight)
    .slice(0, TOP_COUNTRIES)
    .map(({ code, list }) => ({
    label: nameOf(code),
    parts: labels.CATEGORY_IDS.map((id) => {
      const row = list.find((r) => r.category === id);
      return { series: id, value: row ? valueOf(row) : 0, title: row ? `${nameOf(code)} · ${labels.category(id)}: ${show(row)}` : "" };
    }),
    total: metric === "minutes"
      ? t("common.minutes_n", { n: number(list.reduce((s, r) => s + r.minutes, 0)) })
      : money(decimalSum(list.map((r) => r.amount)), currency),
  }));
  const metricLabel = metric === "minutes" ? t("usage.metric_minutes") : t("usage.metric_cost");
  return [
    section(
      t("usage.by_day", { metric: metricLabel }),
      stackedBars({ bars, series, format: axis, title: t("usage.by_day", { metric: metricLabel }) }),
    ),
    section(
      t("usage.by_country", { metric: metricLabel }),
      rows.length
        ? [
            horizontalBars({ rows, series, format: axis, title: t("usage.by_country", { metric: metricLabel }) }),
            byCountry.size > TOP_COUNTRIES ? h("p", { class: "subtle", text: t("usage.top_countries", { n: number(TOP_COUNTRIES), total: number(byCountry.size) }) }) : null,
          ]
        : h("p", { class: "empty", text: t("usage.no_calls") }),
    ),
    section(
      t("usage.totals"),
      table(
        [
          { label: t("common.category"), cell: (r) => labels.category(r.category) },
          { label: t("common.calls"), num: true, cell: (r) => number(r.calls) },
          { label: t("common.minutes"), num: true, cell: (r) => number(r.minutes) },
          { label: t("pool.minutes"), num: true, cell: (r) => number(r.pool_minutes ?? 0) },
          { label: t("common.amount"), num: true, cell: (r) => money(r.amount, currency) },
        ],
        data.totals,
        { empty: t("usage.no_calls") },
      ),
    ),
  ];
}

// ---------------------------------------------------------------------------------------------
// Calls: the extended PSTN usage export, filtered and paged here, and "why this charge"
// ---------------------------------------------------------------------------------------------

const PAGE_SIZE = 25;

export async function calls(ctx) {
  const zone = ctx.info.timezone;
  const users = await api.get(tenantPath(ctx, "/users?limit=1000"));
  const category = select([["", t("common.all")], ...labels.CATEGORY_IDS.map((id) => [id, labels.category(id)])], "", { name: "category" });
  const organizer = select([["", t("common.all")], ...users.users.map((u) => [u.upn, u.display_name])], "", { name: "organizer" });
  const country = h("input", { type: "search", name: "country", placeholder: t("calls.country_placeholder") });
  const fundingSelect = select([["", t("common.all")], ...labels.FUNDING_IDS.map((id) => [id, labels.funding(id)])], "", { name: "funding" });
  const output = h("div", { class: "stack" });
  const panel = h("div", { class: "explain-panel", id: "explain" });
  let rows = [];
  let page = 0;
  const filtered = () =>
    rows.filter((r) =>
      (!category.value || labels.categoryOfRow(r["Call Type"], r["Number Type"]) === category.value) &&
      (!organizer.value || r.UPN === organizer.value) &&
      (!fundingSelect.value || r.Funding === fundingSelect.value) &&
      (!country.value || `${r["Destination Dialed"]} ${r["User Location"]}`.toLowerCase().includes(country.value.trim().toLowerCase())),
    );
  const render = () => {
    const list = filtered();
    const pages = Math.max(1, Math.ceil(list.length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    const slice = list.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    const previous = h("button", { type: "button", class: "secondary", text: t("common.previous"), disabled: page === 0, onclick: () => { page -= 1; render(); } });
    const next = h("button", { type: "button", class: "secondary", text: t("common.next"), disabled: page >= pages - 1, onclick: () => { page += 1; render(); } });
    clear(
      output,
      h("p", { class: "subtle", text: t("calls.count", { n: number(list.length), total: number(rows.length) }) }),
      callsTable(ctx, slice, zone, panel),
      h("div", { class: "pager" }, previous, h("span", { class: "page-number", text: t("common.page_of", { n: number(page + 1), total: number(pages) }) }), next),
    );
  };
  const load = async (range) => {
    clear(output, h("p", { class: "loading", text: t("common.loading") }));
    try {
      const csv = await api.text(tenantPath(ctx, `/reports/pstn-usage${api.query({ ...range, extended: "true" })}`), "text/csv");
      rows = csvObjects(csv);
      page = 0;
      render();
    } catch (error) {
      clear(output, errorBox(error));
    }
  };
  for (const control of [category, organizer, fundingSelect]) control.addEventListener("change", () => { page = 0; render(); });
  country.addEventListener("input", () => { page = 0; render(); });
  const form = rangeForm(ctx, load, [
    field(t("common.category"), category, { name: "category" }),
    field(t("common.organizer"), organizer, { name: "organizer" }),
    field(t("calls.country"), country, { name: "country" }),
    field(t("common.funding"), fundingSelect, { name: "funding" }),
  ]);
  load({ from: firstOfMonth(zone), to: today(zone) });
  return h("div", { class: "stack" }, form, h("div", { class: "split" }, output, panel));
}

function callsTable(ctx, rows, zone, panel) {
  const currency = rows[0] ? rows[0].Currency : ctx.info.currency;
  return table(
    [
      { label: t("calls.start"), cell: (r) => dateTime(r["Start Time"], zone) },
      { label: t("common.organizer"), cell: (r) => r["User Display Name"] || r.UPN },
      { label: t("common.category"), cell: (r) => labels.category(labels.categoryOfRow(r["Call Type"], r["Number Type"])) },
      { label: t("calls.destination"), cell: (r) => `${r["Destination Dialed"]} ${r["Destination Number"]}`.trim() },
      { label: t("calls.duration"), num: true, cell: (r) => duration(r["Duration Seconds"]) },
      { label: t("common.funding"), cell: (r) => labels.funding(r.Funding) },
      { label: t("calls.charge"), num: true, cell: (r) => money(r.Charge, r.Currency || currency) },
      {
        label: "",
        cell: (r) => h("button", { type: "button", class: "link", text: t("calls.why"), onclick: () => explain(ctx, r["Call ID"], panel, zone) }),
      },
    ],
    rows,
    { empty: t("calls.none") },
  );
}

export async function explain(ctx, callId, panel, zone) {
  clear(panel, h("p", { class: "loading", text: t("common.loading") }));
  try {
    const e = await api.get(tenantPath(ctx, `/calls/${api.enc(callId)}/explain`));
    clear(panel, explainView(e, zone));
  } catch (error) {
    clear(panel, errorBox(error));
  }
  panel.scrollIntoView({ block: "nearest" });
}

function explainView(e, zone) {
  const c = e.charge;
  const currency = e.currency;
  const facts = [
    [t("explain.call"), e.call_id],
    [t("explain.status"), e.status === "charged" ? t("explain.charged") : e.status === "refused" ? t("explain.refused") : e.status],
    [t("common.organizer"), e.record.organizer],
    [t("explain.rule"), e.rule || (c && c.rule) || "—"],
  ];
  if (e.reason) facts.push([t("explain.reason"), labels.reason(e.reason)]);
  if (c) {
    facts.push(
      [t("common.category"), labels.category(c.category)],
      [t("common.funding"), labels.funding(c.funding)],
      [t("explain.capability"), c.capability ? labels.license(c.capability) : "—"],
      [t("explain.rate"), c.rate ? `${c.rate.name} (${c.rate.country}) · ${t("common.per_minute", { rate: rate(c.rate.rate_per_minute, currency) })}` : "—"],
      [t("explain.billable"), t("explain.billable_value", { billable: number(c.billable_s), duration: number(c.duration_s) })],
      [t("explain.amount"), money(c.amount, currency)],
      [t("explain.lots"), c.lots && c.lots.length ? c.lots.map((l) => t("explain.lot_take", { lot: l.lot, amount: money(l.amount, currency) })).join(", ") : "—"],
      [t("pool.minutes"), number(c.pool_minutes ?? 0)],
      [t("explain.balance_after"), c.balance_after ? money(c.balance_after, currency) : "—"],
    );
  }
  return section(
    t("explain.title"),
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: String(v) })])),
    e.steps && e.steps.length
      ? [h("h3", { text: t("explain.steps") }), h("ol", { class: "steps" }, e.steps.map((s) => h("li", {}, h("span", { class: "tag", text: s.rule }), " ", s.text)))]
      : null,
  );
}

// ---------------------------------------------------------------------------------------------
// Refused calls
// ---------------------------------------------------------------------------------------------

export async function refused(ctx) {
  const zone = ctx.info.timezone;
  const output = h("div");
  const show = (range) =>
    pager(
      output,
      async (after) => {
        const page = await api.get(tenantPath(ctx, `/reports/refused${api.query({ ...range, limit: 50, after })}`));
        return { items: page.calls, next: page.next };
      },
      (items) =>
        table(
          [
            { label: t("calls.start"), cell: (r) => dateTime(r.record.start, zone) },
            { label: t("common.organizer"), cell: (r) => r.record.organizer },
            { label: t("refused.direction"), cell: (r) => (r.record.direction === "dial_out" ? t("refused.dial_out") : t("refused.dial_in")) },
            { label: t("refused.number"), cell: (r) => r.record.destination_number || r.record.service_number || "—" },
            { label: t("refused.reason"), cell: (r) => h("span", {}, labels.reason(r.reason), " ", h("small", { class: "code", text: `${r.reason} · ${r.rule}` })) },
          ],
          items,
          { empty: t("refused.none") },
        ),
    );
  const form = rangeForm(ctx, show);
  show({ from: firstOfMonth(zone), to: today(zone) });
  return h("div", { class: "stack" }, form, output);
}

export { percent };
