// Operator, on a tenant: rerating after a rate-card fix. A period of days in the tenant's time
// zone, a dry run that shows the difference per call and in total, the run itself after a
// confirmation, and the past runs with their calls.

import * as api from "../api.js";
import { t, money, rate, number, dateTime } from "../i18n.js";
import { h, clear, table, section, field, stat, errorBox, busy, toast } from "../dom.js";
import * as labels from "../labels.js";
import { tenantPath, today, firstOfMonth, dayStart, nextDay } from "./common.js";

export async function rerate(ctx) {
  const zone = ctx.info.timezone;
  const runs = h("div", { id: "rerate-runs" });
  const detail = h("div", { id: "rerate-detail" });
  const refreshRuns = async () => {
    try {
      const list = await api.get(tenantPath(ctx, "/rerates"));
      clear(runs, runsTable(ctx, list, zone, detail));
    } catch (e) {
      clear(runs, errorBox(e));
    }
  };
  await refreshRuns();
  return h(
    "div",
    { class: "stack" },
    periodForm(ctx, zone, refreshRuns),
    section(t("rerate.runs"), h("p", { class: "subtle", text: t("rerate.runs_note") }), runs, detail),
  );
}

/** The period, the dry run and, once its difference is shown, the run. */
function periodForm(ctx, zone, refreshRuns) {
  const from = h("input", { type: "date", name: "from", value: firstOfMonth(zone), required: true });
  const to = h("input", { type: "date", name: "to", value: today(zone), required: true });
  const button = h("button", { type: "submit", text: t("rerate.show_difference") });
  const output = h("div", { id: "rerate-result", role: "status" });
  const form = h(
    "form",
    { class: "card", id: "rerate-form" },
    h("h2", { text: t("rerate.title") }),
    h("p", { class: "note", text: t("rerate.note") }),
    h(
      "div",
      { class: "inline-form" },
      field(t("common.from"), from, { name: "from" }),
      field(t("common.to"), to, { name: "to", hint: t("rerate.days_hint", { zone: zone || "UTC" }) }),
      button,
    ),
    output,
  );
  // A difference shown is for the period it was asked for: changing the period hides it.
  for (const input of [from, to]) input.addEventListener("input", () => clear(output));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!from.value || !to.value) return;
    const period = { from: dayStart(from.value, zone), to: dayStart(nextDay(to.value), zone) };
    busy(button, async () => {
      clear(output);
      try {
        const dry = await api.post(tenantPath(ctx, "/rerate"), { ...period, dry_run: true });
        clear(output, runSummary(dry, zone), itemsTable(dry, zone), runButton(ctx, period, dry, output, refreshRuns));
      } catch (e) {
        clear(output, errorBox(e));
      }
    });
  });
  return form;
}

/** The button that runs the rerate of a period whose difference is shown. */
function runButton(ctx, period, dry, output, refreshRuns) {
  if (!dry.changed) return h("p", { class: "ok-line", text: t("rerate.nothing_to_do") });
  const error = h("div", { role: "alert" });
  const button = h("button", {
    type: "button",
    id: "rerate-run-button",
    text: t("rerate.run"),
    onclick: () => {
      if (!confirm(t("rerate.confirm", { changed: number(dry.changed), net: money(dry.net, dry.currency) }))) return;
      busy(button, async () => {
        error.replaceChildren();
        try {
          const run = await api.post(tenantPath(ctx, "/rerate"), { ...period, dry_run: false });
          clear(
            output,
            h("p", { class: "ok-line", dataset: { run: run.id }, text: t("rerate.done", { id: run.id, changed: number(run.changed), net: money(run.net, run.currency) }) }),
            runSummary(run, ctx.info.timezone),
          );
          toast(t("rerate.done_short", { id: run.id }));
          await refreshRuns();
        } catch (e) {
          clear(error, errorBox(e));
        }
      });
    },
  });
  return h("div", { class: "stack" }, h("p", { class: "note", text: t("rerate.run_note") }), h("div", { class: "inline" }, button), error);
}

/** A run's (or a dry run's) counts and totals. */
function runSummary(run, zone) {
  const c = run.currency;
  return h(
    "div",
    { class: "stack" },
    h(
      "div",
      { class: "stats", id: "rerate-totals" },
      stat(t("rerate.calls"), number(run.calls), { testid: "calls" }),
      stat(t("rerate.changed"), number(run.changed), { testid: "changed" }),
      stat(t("rerate.skipped"), number(run.skipped), { testid: "skipped" }),
      stat(t("rerate.refunded"), money(run.refunded, c), { testid: "refunded" }),
      stat(t("rerate.charged"), money(run.charged, c), { testid: "charged" }),
      stat(t("rerate.net"), money(run.net, c), { testid: "net", tone: { pos: "good", neg: "bad" }[differenceTone(run.net)] }),
    ),
    h(
      "p",
      { class: "subtle" },
      t("rerate.period", { from: dateTime(run.from, zone), to: dateTime(run.to, zone) }),
      " · ",
      t("rerate.card_versions", { versions: run.card_versions.length ? run.card_versions.map((v) => dateTime(v, "UTC")).join(", ") : "—" }),
    ),
  );
}

/** A difference the wallet pays more is shown as a debit, one it gets back as a credit. */
function differenceTone(difference) {
  const text = String(difference || "");
  if (!/[1-9]/.test(text)) return null;
  return text.startsWith("-") ? "pos" : "neg";
}

/** "before → after", or the value alone when it did not change. */
function change(before, after) {
  return before === after ? before : `${before} → ${after}`;
}

/** The calls of a run: changed ones and those kept as they were (skipped). */
function itemsTable(run, zone) {
  const c = run.currency;
  const rateOf = (value) => (value ? rate(value, c) : "—");
  return table(
    [
      { label: t("rerate.call"), cell: (i) => i.call_id },
      { label: t("rerate.start"), cell: (i) => dateTime(i.start, zone) },
      { label: t("rerate.old_amount"), num: true, cell: (i) => money(i.old_amount, c) },
      { label: t("rerate.new_amount"), num: true, cell: (i) => money(i.new_amount, c) },
      { label: t("rerate.difference"), num: true, cell: (i) => h("span", { class: differenceTone(i.difference), text: money(i.difference, c) }) },
      { label: t("common.funding"), cell: (i) => change(labels.funding(i.old_funding), labels.funding(i.new_funding)) },
      { label: t("explain.rule"), cell: (i) => change(i.old_rule, i.new_rule) },
      { label: t("rerate.rate"), num: true, cell: (i) => change(rateOf(i.old_rate_per_minute), rateOf(i.new_rate_per_minute)) },
      { label: t("rerate.pool_minutes"), num: true, cell: (i) => change(number(i.old_pool_minutes), number(i.new_pool_minutes)) },
      { label: t("rerate.skipped_reason"), cell: (i) => (i.skipped ? h("span", {}, labels.reason(i.skipped), " ", h("small", { class: "code", text: i.skipped })) : "") },
    ],
    run.items || [],
    { empty: t("rerate.no_calls"), caption: t("rerate.calls_caption"), rowClass: (i) => (i.skipped ? "skipped" : null) },
  );
}

/** The past runs, newest first; a run's button shows its calls. */
function runsTable(ctx, list, zone, detail) {
  const show = async (run, button) =>
    busy(button, async () => {
      try {
        const full = await api.get(tenantPath(ctx, `/rerates/${api.enc(run.id)}`));
        clear(detail, section(t("rerate.run_title", { id: full.id }), runSummary(full, zone), itemsTable(full, zone)));
      } catch (e) {
        clear(detail, errorBox(e));
      }
    });
  return table(
    [
      { label: t("rerate.run_id"), cell: (r) => r.id },
      { label: t("rerate.at"), cell: (r) => dateTime(r.at, zone) },
      { label: t("rerate.actor"), cell: (r) => r.actor },
      { label: t("rerate.period_column"), cell: (r) => `${dateTime(r.from, zone)} – ${dateTime(r.to, zone)}` },
      { label: t("rerate.changed"), num: true, cell: (r) => number(r.changed) },
      { label: t("rerate.skipped"), num: true, cell: (r) => number(r.skipped) },
      { label: t("rerate.net"), num: true, cell: (r) => money(r.net, r.currency) },
      {
        label: "",
        cell: (r) => {
          const button = h("button", { type: "button", class: "link", text: t("rerate.show_calls") });
          button.addEventListener("click", () => show(r, button));
          return button;
        },
      },
    ],
    list,
    { empty: t("rerate.no_runs") },
  );
}
