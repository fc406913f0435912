// Tenant admin: the wallet (fund, auto-recharge, thresholds, lots, ledger).

import * as api from "../api.js";
import { t, money, number, dateTime, day } from "../i18n.js";
import { h, clear, table, section, stat, field, fieldError, clearErrors, showError, errorBox, pager, busy, toast } from "../dom.js";
import * as labels from "../labels.js";
import { tenantPath } from "./common.js";
import { lotsSection } from "./activity.js";

export async function wallet(ctx) {
  const zone = ctx.info.timezone;
  const summary = h("div", { class: "stack" });
  const ledger = h("div", { id: "ledger" });
  const refresh = async () => {
    const [w, lots] = await Promise.all([
      api.get(tenantPath(ctx, "/wallet")),
      ctx.info.wallet_set_up ? api.get(tenantPath(ctx, "/wallet/lots?limit=100")) : Promise.resolve({ lots: [] }),
    ]);
    clear(summary, walletStats(w), lotsSection(lots.lots, w.currency, zone));
    return w;
  };
  const w = await refresh();
  const ledgerPager = () =>
    pager(
      ledger,
      async (after) => {
        const page = await api.get(tenantPath(ctx, `/wallet/ledger${api.query({ limit: 25, after })}`));
        return { items: page.entries, next: page.next };
      },
      (items) => ledgerTable(items, w.currency, zone),
    );
  ledgerPager();
  const after = async () => {
    await refresh();
    ledgerPager();
  };
  if (!w.set_up) {
    return h("div", { class: "stack" }, h("div", { class: "alert warn", text: t("wallet.not_set_up") }), thresholdsForm(ctx, w, after));
  }
  return h(
    "div",
    { class: "stack" },
    summary,
    h("div", { class: "columns" }, fundForm(ctx, w, after), autoRechargeForm(ctx, w, after)),
    thresholdsForm(ctx, w, after),
    section(t("wallet.ledger"), h("p", { class: "subtle", text: t("wallet.ledger_note") }), ledger),
  );
}

function walletStats(w) {
  const c = w.currency;
  return h(
    "div",
    { class: "stats" },
    stat(t("wallet.balance"), money(w.balance, c), { testid: "balance" }),
    stat(t("wallet.available"), money(w.available, c), { testid: "available" }),
    stat(t("overview.reserved"), money(w.reserved, c)),
    stat(t("wallet.debt"), money(w.debt, c), { tone: /[1-9]/.test(w.debt || "") ? "bad" : "" }),
    stat(t("wallet.projected_depletion"), w.projected_depletion ? day(w.projected_depletion) : t("wallet.no_depletion")),
    stat(t("wallet.funded"), money(w.funded, c)),
    stat(t("wallet.debited"), money(w.debited, c)),
    stat(t("wallet.forfeited"), money(w.forfeited, c)),
  );
}

function ledgerTable(entries, currency, zone) {
  return table(
    [
      { label: "#", cell: (e) => String(e.seq) },
      { label: t("ledger.at"), cell: (e) => dateTime(e.at, zone) },
      { label: t("ledger.kind"), cell: (e) => labels.entryKind(e.kind) },
      { label: t("ledger.reference"), cell: (e) => e.reference || e.call_id || "—" },
      { label: t("ledger.change"), num: true, cell: (e) => h("span", { class: e.delta.startsWith("-") ? "neg" : "pos", text: money(e.delta, currency) }) },
      { label: t("ledger.balance_after"), num: true, cell: (e) => money(e.balance_after, currency) },
    ],
    entries,
    { empty: t("ledger.empty") },
  );
}

function fundForm(ctx, w, done) {
  const amount = h("input", { name: "amount", inputmode: "decimal", required: true, autocomplete: "off" });
  const reference = h("input", { name: "reference", required: true, autocomplete: "off" });
  const submit = h("button", { type: "submit", text: t("wallet.fund_submit") });
  const formError = h("div", { class: "form-error", role: "alert" });
  const form = h(
    "form",
    { class: "card", id: "fund-form" },
    h("h2", { text: t("wallet.fund_title") }),
    field(t("wallet.fund_amount", { currency: w.currency }), amount, { name: "amount", hint: t("wallet.whole_units_hint") }),
    field(t("wallet.fund_reference"), reference, { name: "reference", hint: t("wallet.reference_hint") }),
    formError,
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    busy(submit, async () => {
      try {
        const result = await api.post(tenantPath(ctx, "/wallet/fundings"), { amount: amount.value.trim(), reference: reference.value.trim() });
        toast(t("wallet.funded_toast", { amount: money(result.lot.amount, w.currency), balance: money(result.balance, w.currency) }));
        form.reset();
        await done();
      } catch (error) {
        placeError(form, formError, error, ["reference", "amount"]);
      }
    });
  });
  return form;
}

/** Puts a refusal next to the field its detail names, else under the form. */
function placeError(form, fallback, error, names) {
  const detail = (error && error.detail) || "";
  const name = error.code === "conflict" ? "reference" : names.find((n) => detail.includes(n));
  if (name && form.querySelector(`[data-field="${name}"]`)) fieldError(form, name, error);
  else showError(fallback, error);
}

function autoRechargeForm(ctx, w, done) {
  const current = w.auto_recharge || { enabled: false, trigger: "", amount: "", payment_accepted: true };
  const enabled = h("input", { type: "checkbox", name: "enabled", checked: current.enabled });
  const trigger = h("input", { name: "trigger", inputmode: "decimal", value: current.trigger || "", autocomplete: "off" });
  const amount = h("input", { name: "amount", inputmode: "decimal", value: current.amount || "", autocomplete: "off" });
  const accepted = h("input", { type: "checkbox", name: "payment_accepted", checked: current.payment_accepted !== false });
  const submit = h("button", { type: "submit", text: t("common.save") });
  const formError = h("div", { class: "form-error", role: "alert" });
  const saved = h("p", { class: "saved", role: "status" });
  const form = h(
    "form",
    { class: "card", id: "auto-recharge-form" },
    h("h2", { text: t("wallet.auto_title") }),
    h("p", { class: "subtle", text: t("wallet.auto_intro") }),
    h("label", { class: "check" }, enabled, " ", t("wallet.auto_enabled")),
    field(t("wallet.auto_trigger", { currency: w.currency }), trigger, { name: "trigger", hint: t("wallet.whole_units_hint") }),
    field(t("wallet.auto_amount", { currency: w.currency }), amount, { name: "amount", hint: t("wallet.whole_units_hint") }),
    h("label", { class: "check" }, accepted, " ", t("wallet.auto_payment_accepted")),
    formError,
    submit,
    saved,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    saved.textContent = "";
    const body = { enabled: enabled.checked, payment_accepted: accepted.checked };
    if (trigger.value.trim()) body.trigger = trigger.value.trim();
    if (amount.value.trim()) body.amount = amount.value.trim();
    busy(submit, async () => {
      try {
        const result = await api.put(tenantPath(ctx, "/wallet/auto-recharge"), body);
        const a = result.auto_recharge;
        saved.textContent = a && a.enabled
          ? t("wallet.auto_saved_on", { trigger: money(a.trigger, w.currency), amount: money(a.amount, w.currency) })
          : t("wallet.auto_saved_off");
        await done();
      } catch (error) {
        placeError(form, formError, error, ["trigger", "amount"]);
      }
    });
  });
  return form;
}

function thresholdsForm(ctx, w, done) {
  const first = h("input", { name: "threshold1", inputmode: "decimal", value: (w.low_balance_thresholds || [])[0] || "" });
  const second = h("input", { name: "threshold2", inputmode: "decimal", value: (w.low_balance_thresholds || [])[1] || "" });
  const submit = h("button", { type: "submit", text: w.set_up ? t("common.save") : t("wallet.set_up") });
  const formError = h("div", { class: "form-error", role: "alert" });
  const form = h(
    "form",
    { class: "card inline-form", id: "thresholds-form" },
    h("h2", { text: t("wallet.thresholds_title") }),
    h("p", { class: "subtle", text: t("wallet.thresholds_intro") }),
    field(t("wallet.threshold_n", { n: 1 }), first, { name: "threshold1" }),
    field(t("wallet.threshold_n", { n: 2 }), second, { name: "threshold2" }),
    submit,
    formError,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    const thresholds = [first.value.trim(), second.value.trim()].filter(Boolean);
    busy(submit, async () => {
      try {
        await api.put(tenantPath(ctx, "/wallet/settings"), { low_balance_thresholds: thresholds });
        toast(t("common.saved"));
        await done();
      } catch (error) {
        showError(formError, error);
      }
    });
  });
  return form;
}

export { errorBox, number };
