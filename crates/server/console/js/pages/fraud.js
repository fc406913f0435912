// Tenant admin: the toll-fraud guard (C43 to C46): its gauges, the approved and blocked
// countries, approving a country, lifting a suspension, the tenant's own settings and the
// incidents (the guard's events).

import * as api from "../api.js";
import { t, money, number, dateTime, lang } from "../i18n.js";
import { h, clear, table, section, stat, field, select, showError, clearErrors, errorBox, pager, busy, toast } from "../dom.js";
import * as labels from "../labels.js";
import { tenantPath } from "./common.js";

const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const INCIDENTS_PAGE = 50;

export async function fraud(ctx) {
  const zone = ctx.info.timezone;
  const currency = ctx.info.currency;
  const gauges = h("div", { id: "fraud-gauges", class: "stack" });
  const countries = h("div", { id: "fraud-countries" });
  const liftAll = h("div", { id: "fraud-lift-all" });
  const incidents = h("div", { id: "fraud-incidents" });
  // The last answer about the tenant's guard: its settings are sent back whole by the settings
  // form, with only the fields the form edits replaced.
  let view = await api.get(tenantPath(ctx, "/fraud"));
  let incidentsPager = null;
  const show = (next) => {
    view = next;
    clear(gauges, guardStats(next, currency), notes(next, currency));
    clear(countries, countriesSection(next, zone));
    clear(liftAll, liftAllButton(ctx, next, changed));
  };
  // After an approval, a lifting or new settings: the answer is the guard now.
  const changed = async (next) => {
    show(next);
    if (incidentsPager) await incidentsPager.first();
  };
  show(view);
  const timer = setInterval(async () => {
    if (!gauges.isConnected) {
      clearInterval(timer);
      return;
    }
    try {
      show(await api.get(tenantPath(ctx, "/fraud")));
    } catch (error) {
      clear(gauges, errorBox(error));
    }
  }, 10_000);
  const users = await api.get(tenantPath(ctx, "/users?limit=1000")).catch(() => ({ users: [] }));
  incidentsPager = pager(
    incidents,
    async (after) => {
      const page = await api.get(tenantPath(ctx, `/fraud/incidents${api.query({ limit: INCIDENTS_PAGE, after })}`));
      return { items: page.events, next: page.next };
    },
    (items) => incidentsTable(items, currency, zone),
  );
  return h(
    "div",
    { class: "stack" },
    h("p", { class: "subtle", text: t("fraud.intro") }),
    gauges,
    h("div", { class: "columns" }, countries, approveForm(ctx, changed)),
    section(t("fraud.lift_title"), h("p", { class: "subtle", text: t("fraud.lift_intro") }), liftForm(ctx, users.users, changed), liftAll),
    settingsForm(ctx, () => view, changed),
    section(t("fraud.incidents"), h("p", { class: "subtle", text: t("fraud.incidents_intro") }), incidents),
  );
}

// ---------------------------------------------------------------------------------------------
// Gauges
// ---------------------------------------------------------------------------------------------

function yesNo(value) {
  return value ? t("common.yes") : t("common.no");
}

function modeInForce(view) {
  const mode = labels.guardMode(view.mode);
  return view.settings && view.settings.mode ? mode : t("fraud.mode_inherited", { mode });
}

function guardStats(view, currency) {
  return h(
    "div",
    { class: "stats" },
    stat(t("fraud.mode"), modeInForce(view), { testid: "mode", tone: view.mode === "enforce" ? "good" : "" }),
    stat(t("fraud.learning"), yesNo(view.learning), { testid: "learning" }),
    stat(t("fraud.exposure_hour"), money(view.exposure_hour, currency), { testid: "exposure-hour" }),
    stat(t("fraud.exposure_day"), money(view.exposure_day, currency), { testid: "exposure-day" }),
    stat(t("fraud.live_dial_outs"), number(view.live_dial_outs), { testid: "live-dial-outs" }),
    stat(t("fraud.suspended"), yesNo(view.suspended), { testid: "suspended", tone: view.suspended ? "bad" : "" }),
    stat(t("fraud.organizers_suspended"), number(view.organizers_suspended), {
      testid: "organizers-suspended",
      tone: view.organizers_suspended > 0 ? "bad" : "",
    }),
    stat(t("fraud.alert_open"), yesNo(view.alert_open), { testid: "alert-open", tone: view.alert_open ? "bad" : "" }),
  );
}

function notes(view, currency) {
  return [
    view.suspended ? h("div", { class: "alert warn", role: "alert", text: t("fraud.tenant_suspended") }) : null,
    h("p", { class: "note", text: t("fraud.exposure_note", { currency }) }),
    view.learning ? h("p", { class: "note", text: t("fraud.learning_note") }) : null,
  ];
}

// ---------------------------------------------------------------------------------------------
// Countries: approved, blocked after test calls, and approving one
// ---------------------------------------------------------------------------------------------

/** "Austria (AT)" in the console's language, or the code alone. */
export function countryName(code) {
  if (!code) return "—";
  try {
    const name = new Intl.DisplayNames([lang()], { type: "region" }).of(code);
    return name && name !== code ? `${name} (${code})` : code;
  } catch {
    return code;
  }
}

function countriesSection(view, zone) {
  return section(
    t("fraud.countries_title"),
    h("h3", { text: t("fraud.approved") }),
    view.approved_countries.length
      ? h("ul", { class: "inline chips", id: "fraud-approved" }, view.approved_countries.map((c) => h("li", { class: "chip", dataset: { country: c }, text: countryName(c) })))
      : h("p", { class: "empty", text: t("fraud.none_approved") }),
    h("h3", { text: t("fraud.blocked") }),
    table(
      [
        { label: t("fraud.country"), cell: (b) => countryName(b.country) },
        { label: t("fraud.until"), cell: (b) => dateTime(b.until, zone) },
      ],
      view.blocked_countries,
      { empty: t("fraud.none_blocked") },
    ),
  );
}

function approveForm(ctx, done) {
  const country = h("input", { name: "country", required: true, maxlength: "2", class: "narrow", autocomplete: "off", placeholder: "BR" });
  const button = h("button", { type: "submit", text: t("fraud.approve") });
  const error = h("div", { class: "form-error", role: "alert" });
  const form = h(
    "form",
    { class: "card", id: "fraud-approve-form" },
    h("h2", { text: t("fraud.approve_title") }),
    h("p", { class: "subtle", text: t("fraud.approve_intro") }),
    field(t("fraud.country_code"), country, { name: "country" }),
    error,
    button,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    const code = country.value.trim().toUpperCase();
    busy(button, async () => {
      try {
        const next = await api.post(tenantPath(ctx, "/fraud/approve"), { country: code });
        toast(t("fraud.approved_toast", { country: countryName(code) }));
        form.reset();
        await done(next);
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return form;
}

// ---------------------------------------------------------------------------------------------
// Lifting a suspension
// ---------------------------------------------------------------------------------------------

function liftForm(ctx, users, done) {
  const listId = "fraud-organizers";
  const organizer = h("input", { name: "organizer", required: true, autocomplete: "off", list: listId, placeholder: "name@example.com" });
  const button = h("button", { type: "submit", text: t("fraud.lift") });
  const error = h("div", { class: "form-error", role: "alert" });
  const form = h(
    "form",
    { class: "inline-form", id: "fraud-lift-form" },
    field(t("common.organizer"), organizer, { name: "organizer" }),
    h("datalist", { id: listId }, users.map((u) => h("option", { value: u.upn, text: u.display_name }))),
    button,
    error,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    busy(button, async () => {
      try {
        const next = await api.post(tenantPath(ctx, "/fraud/lift"), { organizer: organizer.value.trim() });
        toast(next.changed ? t("fraud.lifted_toast") : t("fraud.nothing_lifted"));
        form.reset();
        await done(next);
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return form;
}

/** Lifts the tenant's suspension and every organizer's: offered while any is in force. */
function liftAllButton(ctx, view, done) {
  if (!view.suspended && !(view.organizers_suspended > 0)) return null;
  const error = h("div", { class: "form-error", role: "alert" });
  const button = h("button", { type: "button", class: "danger secondary", id: "fraud-lift-all-button", text: t("fraud.lift_all") });
  button.addEventListener("click", () =>
    busy(button, async () => {
      try {
        const next = await api.post(tenantPath(ctx, "/fraud/lift"), {});
        toast(next.changed ? t("fraud.lifted_toast") : t("fraud.nothing_lifted"));
        await done(next);
      } catch (e) {
        showError(error, e);
      }
    }),
  );
  return h("div", { class: "inline" }, button, error);
}

// ---------------------------------------------------------------------------------------------
// The tenant's own settings: mode, premium opt-in, business hours
// ---------------------------------------------------------------------------------------------

function weekdayName(index) {
  // 2024-01-01 was a Monday.
  return new Intl.DateTimeFormat(lang(), { weekday: "short", timeZone: "UTC" }).format(new Date(Date.UTC(2024, 0, 1 + index)));
}

function settingsForm(ctx, current, done) {
  const s = current().settings;
  const hours = s.business_hours || { start_hour: 8, end_hour: 18, weekdays: WEEKDAYS.slice(0, 5) };
  const inherited = current().settings.mode ? t("fraud.mode_default") : t("fraud.mode_default_now", { mode: labels.guardMode(current().mode) });
  const mode = select([["", inherited], ...labels.GUARD_MODE_IDS.map((m) => [m, labels.guardMode(m)])], s.mode || "", { name: "mode" });
  const premium = h("input", { type: "checkbox", name: "premium_enabled", checked: s.premium_enabled });
  const start = h("input", { type: "number", name: "start_hour", min: "0", max: "23", step: "1", class: "narrow", value: String(hours.start_hour) });
  const end = h("input", { type: "number", name: "end_hour", min: "1", max: "24", step: "1", class: "narrow", value: String(hours.end_hour) });
  const days = WEEKDAYS.map((d, i) => [d, h("input", { type: "checkbox", name: `weekday-${d}`, checked: hours.weekdays.includes(d) }), weekdayName(i)]);
  const button = h("button", { type: "submit", text: t("common.save") });
  const error = h("div", { class: "form-error", role: "alert" });
  const saved = h("p", { class: "saved", role: "status" });
  const form = h(
    "form",
    { class: "card", id: "fraud-settings-form" },
    h("h2", { text: t("fraud.settings_title") }),
    h("p", { class: "subtle", text: t("fraud.settings_intro") }),
    h("div", { class: "inline-form" }, field(t("fraud.setting_mode"), mode, { name: "mode", hint: t("fraud.mode_hint") })),
    h("label", { class: "check" }, premium, " ", t("fraud.premium")),
    h("p", { class: "hint", text: t("fraud.premium_hint") }),
    h("h3", { text: t("fraud.hours") }),
    h(
      "div",
      { class: "inline-form" },
      field(t("fraud.start_hour"), start, { name: "start_hour" }),
      field(t("fraud.end_hour"), end, { name: "end_hour" }),
    ),
    h("fieldset", { class: "weekdays" }, h("legend", { text: t("fraud.weekdays") }), days.map(([d, input, name]) => h("label", { class: "check", dataset: { day: d } }, input, " ", name))),
    h("p", { class: "hint", text: t("fraud.hours_hint", { zone: ctx.info.timezone }) }),
    error,
    button,
    saved,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    saved.textContent = "";
    // The whole settings object as last read, with the three edited here replaced.
    const body = {
      ...current().settings,
      mode: mode.value || null,
      premium_enabled: premium.checked,
      business_hours: {
        start_hour: Number(start.value),
        end_hour: Number(end.value),
        weekdays: days.filter(([, input]) => input.checked).map(([d]) => d),
      },
    };
    busy(button, async () => {
      try {
        const next = await api.put(tenantPath(ctx, "/fraud"), body);
        saved.textContent = t("fraud.settings_saved", { mode: modeInForce(next) });
        await done(next);
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return form;
}

// ---------------------------------------------------------------------------------------------
// Incidents: the guard's events
// ---------------------------------------------------------------------------------------------

/** Who lifted a suspension: the key's role and id (`tenant_admin:3f0c…`). */
function actor(by) {
  if (!by) return "";
  const [kind, id] = by.split(":");
  const role = { operator: t("kind.operator"), tenant_admin: t("kind.tenant_admin"), bridge: t("kind.bridge") }[kind];
  return role ? `${role}${id ? ` · ${id}` : ""}` : by;
}

/** The organizer (or the whole tenant) an incident is about, and who lifted a suspension. */
function incidentOrganizer(e) {
  const d = e.data || {};
  const who = d.organizer || (d.scope === "tenant" ? t("fraud.whole_tenant") : "—");
  if (!d.by) return who;
  return h("span", {}, who, h("br"), h("small", { class: "subtle", text: t("fraud.lifted_by", { by: actor(d.by) }) }));
}

function enforcedCell(e) {
  const d = e.data || {};
  if (d.enforced === undefined) return "";
  // Event data are strings.
  const enforced = d.enforced === "true";
  return h("span", { class: enforced ? "tag warn nowrap" : "tag nowrap", text: enforced ? t("fraud.enforced_yes") : t("fraud.enforced_no") });
}

function exposureCell(e, currency) {
  const d = e.data || {};
  if (d.hour_exposure === undefined && d.day_exposure === undefined) return "";
  return `${money(d.hour_exposure, currency)} · ${money(d.day_exposure, currency)}`;
}

function incidentsTable(events, currency, zone) {
  return table(
    [
      { label: "#", cell: (e) => String(e.seq) },
      { label: t("fraud.at"), cell: (e) => h("span", { class: "nowrap", text: dateTime(e.at, zone) }) },
      { label: t("fraud.incident"), cell: (e) => h("span", {}, labels.fraudEvent(e.type), " ", h("small", { class: "code", text: e.type })) },
      {
        label: t("refused.reason"),
        cell: (e) => (e.data && e.data.reason ? h("span", {}, labels.reason(e.data.reason), " ", h("small", { class: "code", text: e.data.reason })) : ""),
      },
      { label: t("common.organizer"), cell: incidentOrganizer },
      { label: t("fraud.country"), cell: (e) => (e.data && e.data.country ? countryName(e.data.country) : "") },
      { label: t("fraud.enforced"), cell: enforcedCell },
      { label: t("fraud.exposure"), num: true, cell: (e) => exposureCell(e, currency) },
    ],
    events,
    { empty: t("fraud.incidents_none"), rowClass: (e) => (e.type === "fraud.suspended" ? "warn" : null) },
  );
}
