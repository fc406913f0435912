// Tenant admin: users and their licenses, dial-out policies, the policy simulator, service
// numbers and webhooks.

import * as api from "../api.js";
import { t, money, rate, number, dateTime } from "../i18n.js";
import { h, clear, table, section, field, select, showError, clearErrors, errorBox, busy, toast, pager } from "../dom.js";
import * as labels from "../labels.js";
import { tenantPath } from "./common.js";

async function policies() {
  return api.get("/v1/policies");
}

function policyLabel(p) {
  return `${p.name} (${labels.scope(p.conferencing_dial_out)})`;
}

// ---------------------------------------------------------------------------------------------
// Users, licenses, policies
// ---------------------------------------------------------------------------------------------

export async function users(ctx) {
  const root = h("div", { class: "stack" });
  const refresh = async () => {
    try {
      const [list, licenses, known, info] = await Promise.all([
        api.get(tenantPath(ctx, "/users?limit=1000")),
        api.get(tenantPath(ctx, "/licenses")),
        policies(),
        api.get(tenantPath(ctx)),
      ]);
      clear(
        root,
        licensesSection(ctx, licenses, refresh),
        defaultPolicySection(ctx, info, known, refresh),
        usersSection(ctx, list.users, known, refresh),
        userForm(ctx, known, refresh),
      );
    } catch (error) {
      clear(root, errorBox(error));
    }
  };
  await refresh();
  return root;
}

function licensesSection(ctx, data, refresh) {
  const operator = ctx.me.kind === "operator";
  return section(
    t("licenses.title"),
    table(
      [
        { label: t("licenses.license"), cell: (l) => h("span", {}, labels.license(l.sku), " ", h("small", { class: "code", text: l.sku })) },
        { label: t("licenses.purchased"), num: true, cell: (l) => number(l.purchased) },
        { label: t("licenses.assigned"), num: true, cell: (l) => number(l.assigned) },
        { label: t("licenses.available"), num: true, cell: (l) => number(Math.max(0, l.purchased - l.assigned)) },
        operator ? { label: t("licenses.set_purchased"), cell: (l) => purchasedEditor(ctx, l, refresh) } : null,
      ].filter(Boolean),
      data.licenses,
    ),
  );
}

function purchasedEditor(ctx, l, refresh) {
  const count = h("input", { type: "number", min: "0", value: String(l.purchased), class: "narrow", "aria-label": t("licenses.purchased") });
  const button = h("button", { type: "button", class: "secondary", text: t("common.save") });
  const error = h("div", { class: "field-error" });
  button.addEventListener("click", () =>
    busy(button, async () => {
      try {
        await api.put(tenantPath(ctx, `/licenses/${api.enc(l.sku)}`), { count: Number(count.value) });
        toast(t("common.saved"));
        await refresh();
      } catch (e) {
        showError(error, e);
      }
    }),
  );
  return h("div", { class: "inline" }, count, button, error);
}

function defaultPolicySection(ctx, info, known, refresh) {
  const choice = select(known.policies.map((p) => [p.name, policyLabel(p)]), info.default_dial_out_policy.name, { name: "default_policy" });
  const button = h("button", { type: "submit", text: t("common.save") });
  const error = h("div", { class: "form-error" });
  const form = h("form", { class: "inline-form" }, field(t("policy.default"), choice, { name: "policy" }), button, error);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(button, async () => {
      try {
        await api.put(tenantPath(ctx, "/default-policy"), { policy: choice.value });
        toast(t("common.saved"));
        await refresh();
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return section(t("policy.title"), h("p", { class: "subtle", text: t("policy.intro") }), form);
}

function usersSection(ctx, list, known, refresh) {
  return section(
    t("users.title"),
    table(
      [
        { label: t("users.name"), cell: (u) => h("span", {}, u.display_name, h("br"), h("small", { class: "code", text: u.upn })) },
        { label: t("users.location"), cell: (u) => u.usage_location },
        { label: t("users.licenses"), cell: (u) => licenseChips(ctx, u, refresh) },
        { label: t("users.policy"), cell: (u) => userPolicy(ctx, u, known, refresh) },
        { label: t("users.toll_free"), cell: (u) => (u.toll_free_dial_in ? t("common.yes") : t("common.no")) },
      ],
      list,
      { empty: t("users.none") },
    ),
  );
}

function licenseChips(ctx, user, refresh) {
  const error = h("div", { class: "field-error" });
  const chips = user.licenses.map((sku) =>
    h(
      "span",
      { class: "chip" },
      labels.license(sku),
      h("button", {
        type: "button",
        class: "chip-remove",
        title: t("users.remove_license", { license: labels.license(sku) }),
        "aria-label": t("users.remove_license", { license: labels.license(sku) }),
        text: "×",
        onclick: async () => {
          try {
            await api.del(tenantPath(ctx, `/users/${api.enc(user.upn)}/licenses/${api.enc(sku)}`));
            await refresh();
          } catch (e) {
            showError(error, e);
          }
        },
      }),
    ),
  );
  const missing = labels.SKUS.filter((s) => !user.licenses.includes(s));
  const choice = select([["", t("users.assign_choose")], ...missing.map((s) => [s, labels.license(s)])], "", { "aria-label": t("users.assign") });
  const assign = h("button", { type: "button", class: "secondary", text: t("users.assign") });
  assign.addEventListener("click", () => {
    if (!choice.value) return;
    busy(assign, async () => {
      try {
        await api.post(tenantPath(ctx, `/users/${api.enc(user.upn)}/licenses`), { sku: choice.value });
        await refresh();
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return h("div", { class: "licenses" }, chips, missing.length ? h("div", { class: "inline" }, choice, assign) : null, error);
}

function userPolicy(ctx, user, known, refresh) {
  const choice = select(
    [["", t("users.policy_default", { name: user.effective_policy.name })], ...known.policies.map((p) => [p.name, policyLabel(p)])],
    user.dial_out_policy || "",
    { "aria-label": t("users.policy") },
  );
  const error = h("div", { class: "field-error" });
  choice.addEventListener("change", async () => {
    try {
      await api.put(tenantPath(ctx, `/users/${api.enc(user.upn)}`), {
        display_name: user.display_name,
        usage_location: user.usage_location,
        toll_free_dial_in: user.toll_free_dial_in,
        dial_out_policy: choice.value || null,
      });
      toast(t("common.saved"));
      await refresh();
    } catch (e) {
      showError(error, e);
    }
  });
  return h("div", {}, choice, error);
}

function userForm(ctx, known, refresh) {
  const upn = h("input", { name: "upn", required: true, autocomplete: "off", placeholder: "name@example.com" });
  const name = h("input", { name: "display_name", required: true, autocomplete: "off" });
  const location = h("input", { name: "usage_location", maxlength: "2", class: "narrow", autocomplete: "off" });
  const policy = select([["", t("users.policy_tenant_default")], ...known.policies.map((p) => [p.name, policyLabel(p)])], "");
  const tollFree = h("input", { type: "checkbox", checked: true });
  const button = h("button", { type: "submit", text: t("users.save_user") });
  const error = h("div", { class: "form-error", role: "alert" });
  const form = h(
    "form",
    { class: "inline-form" },
    field(t("users.upn"), upn, { name: "upn" }),
    field(t("users.name"), name, { name: "display_name" }),
    field(t("users.location"), location, { name: "usage_location", hint: t("users.location_hint") }),
    field(t("users.policy"), policy, { name: "policy" }),
    h("label", { class: "check" }, tollFree, " ", t("users.toll_free")),
    button,
    error,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    busy(button, async () => {
      try {
        const body = { display_name: name.value.trim(), toll_free_dial_in: tollFree.checked, dial_out_policy: policy.value || null };
        if (location.value.trim()) body.usage_location = location.value.trim().toUpperCase();
        await api.put(tenantPath(ctx, `/users/${api.enc(upn.value.trim())}`), body);
        toast(t("common.saved"));
        await refresh();
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return section(t("users.add_title"), h("p", { class: "subtle", text: t("users.add_intro") }), form);
}

// ---------------------------------------------------------------------------------------------
// Policy simulator
// ---------------------------------------------------------------------------------------------

export async function simulator(ctx) {
  const list = await api.get(tenantPath(ctx, "/users?limit=1000"));
  const numbers = await api.get(tenantPath(ctx, "/numbers?limit=1000"));
  const organizer = select(list.users.map((u) => [u.upn, `${u.display_name} <${u.upn}>`]), list.users[0] ? list.users[0].upn : "", { name: "organizer" });
  const direction = select([["dial_out", t("refused.dial_out")], ["dial_in", t("refused.dial_in")]], "dial_out", { name: "direction" });
  const destination = h("input", { name: "destination_number", placeholder: "+81 3 1234 5678", autocomplete: "off" });
  const service = select(numbers.numbers.map((n) => [n.number, `${n.number} · ${labels.numberKind(n.kind)}`]), numbers.numbers[0] ? numbers.numbers[0].number : "", { name: "service_number" });
  const caller = h("input", { name: "caller_number", placeholder: "+33 6 12 34 56 78", autocomplete: "off" });
  const minutes = h("input", { type: "number", name: "duration_min", min: "0", max: "1440", value: "10", class: "narrow" });
  const button = h("button", { type: "submit", text: t("sim.run") });
  const output = h("div", { id: "sim-result", "aria-live": "polite" });
  const outFields = h("div", { class: "inline-form" }, field(t("sim.destination"), destination, { name: "destination_number" }));
  const inFields = h("div", { class: "inline-form", hidden: true }, field(t("sim.service_number"), service, { name: "service_number" }), field(t("sim.caller_number"), caller, { name: "caller_number" }));
  direction.addEventListener("change", () => {
    outFields.hidden = direction.value !== "dial_out";
    inFields.hidden = direction.value !== "dial_in";
  });
  const form = h(
    "form",
    { class: "stack", id: "sim-form" },
    h("div", { class: "inline-form" }, field(t("common.organizer"), organizer, { name: "organizer" }), field(t("sim.direction"), direction, { name: "direction" }), field(t("sim.duration_min"), minutes, { name: "duration" })),
    outFields,
    inFields,
    h("div", {}, button),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { organizer: organizer.value, direction: direction.value, duration_s: Math.round(Number(minutes.value || 0) * 60) };
    if (direction.value === "dial_out") body.destination_number = destination.value.trim();
    else {
      body.service_number = service.value;
      if (caller.value.trim()) body.caller_number = caller.value.trim();
    }
    busy(button, async () => {
      clear(output);
      try {
        clear(output, simulationView(await api.post(tenantPath(ctx, "/simulate"), body), body));
      } catch (error) {
        clear(output, errorBox(error));
      }
    });
  });
  return h("div", { class: "stack" }, section(t("sim.title"), h("p", { class: "subtle", text: t("sim.intro") }), form), output);
}

function simulationView(r, body) {
  const allow = r.decision === "allow";
  // The answer carries the would-be charge (as in "explain"), or the same facts at the top level.
  const c = r.charge || {};
  const currency = r.currency || c.currency;
  const capability = r.capability || c.capability;
  const ruleId = r.rule || c.rule;
  const rateEntry = c.rate || null;
  const perMinute = r.rate_per_minute || (rateEntry && rateEntry.rate_per_minute);
  const fee = r.connection_fee || c.connection_fee;
  const poolMinutes = r.pool_minutes ?? c.pool_minutes;
  const cost = r.cost ?? c.amount;
  const facts = [];
  if (!allow) {
    facts.push([t("explain.reason"), r.message || labels.reason(r.reason)]);
    if (r.reason) facts.push([t("sim.code"), `${r.reason}${ruleId ? ` · ${ruleId}` : ""}`]);
  } else {
    facts.push([t("sim.who_pays"), labels.funding(r.funding || c.funding)]);
    if (capability) facts.push([t("explain.capability"), `${labels.license(capability)} (${capability})`]);
    if (ruleId) facts.push([t("explain.rule"), ruleId]);
  }
  const destination = r.destination || (rateEntry && rateEntry.name);
  const country = r.country || c.other_country || (rateEntry && rateEntry.country);
  if (destination || country) facts.push([t("calls.destination"), [destination, country].filter(Boolean).join(" · ")]);
  if (perMinute) facts.push([t("explain.rate"), t("common.per_minute", { rate: rate(perMinute, currency) })]);
  if (fee && /[1-9]/.test(fee)) facts.push([t("sim.connection_fee"), money(fee, currency)]);
  if (poolMinutes) facts.push([t("pool.minutes"), number(poolMinutes)]);
  if (cost !== undefined && cost !== null) facts.push([t("sim.cost", { minutes: number(body.duration_s / 60) }), money(cost, currency)]);
  if (c.balance_after) facts.push([t("explain.balance_after"), money(c.balance_after, currency)]);
  return h(
    "section",
    { class: `card verdict ${allow ? "allow" : "deny"}` },
    h("h2", { text: allow ? t("sim.allowed") : t("sim.denied") }),
    !allow && r.reason && r.reason.startsWith("fraud_")
      ? h("p", { class: "note", id: "sim-fraud-note" }, t("sim.fraud_note"), " ", h("a", { href: "#/fraud", text: t("nav.fraud") }))
      : null,
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: String(v) })])),
  );
}

// ---------------------------------------------------------------------------------------------
// Service numbers
// ---------------------------------------------------------------------------------------------

export async function numbers(ctx) {
  const list = h("div");
  const show = () =>
    pager(
      list,
      async (after) => {
        const page = await api.get(tenantPath(ctx, `/numbers${api.query({ limit: 50, after })}`));
        return { items: page.numbers, next: page.next };
      },
      (items) =>
        table(
          [
            { label: t("numbers.number"), cell: (n) => n.number },
            { label: t("numbers.kind"), cell: (n) => labels.numberKind(n.kind) },
            { label: t("numbers.country"), cell: (n) => n.country },
            { label: t("numbers.shared"), cell: (n) => (n.shared ? t("numbers.shared_yes") : t("numbers.dedicated")) },
            { label: t("numbers.bridge_default"), cell: (n) => (n.bridge_default ? t("common.yes") : "") },
          ],
          items,
          { empty: t("numbers.none") },
        ),
    );
  show();
  const parts = [section(t("numbers.title"), list)];
  if (ctx.me.kind === "operator") parts.push(numberForm(ctx, show));
  else parts.push(h("p", { class: "subtle", text: t("numbers.operator_adds") }));
  return h("div", { class: "stack" }, parts);
}

function numberForm(ctx, done) {
  const number = h("input", { name: "number", required: true, placeholder: "+33 1 86 95 00 00" });
  const kind = select([["toll", labels.numberKind("toll")], ["toll_free", labels.numberKind("toll_free")]], "toll");
  const shared = h("input", { type: "checkbox" });
  const bridge = h("input", { type: "checkbox" });
  const button = h("button", { type: "submit", text: t("numbers.add") });
  const error = h("div", { class: "form-error", role: "alert" });
  const form = h(
    "form",
    { class: "inline-form" },
    field(t("numbers.number"), number, { name: "number" }),
    field(t("numbers.kind"), kind, { name: "kind" }),
    h("label", { class: "check" }, shared, " ", t("numbers.shared")),
    h("label", { class: "check" }, bridge, " ", t("numbers.bridge_default")),
    button,
    error,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(button, async () => {
      try {
        await api.post(tenantPath(ctx, "/numbers"), { number: number.value.trim(), kind: kind.value, shared: shared.checked, bridge_default: bridge.checked });
        toast(t("common.saved"));
        form.reset();
        error.replaceChildren();
        done();
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return section(t("numbers.add_title"), form);
}

// ---------------------------------------------------------------------------------------------
// Webhooks and their delivery log
// ---------------------------------------------------------------------------------------------

export async function webhooks(ctx) {
  const zone = ctx.info.timezone;
  const root = h("div", { class: "stack" });
  const log = h("div");
  const refresh = async () => {
    const page = await api.get(tenantPath(ctx, "/webhooks?limit=100"));
    clear(
      root,
      section(
        t("hooks.title"),
        table(
          [
            { label: t("hooks.url"), cell: (e) => e.url },
            { label: t("hooks.created"), cell: (e) => dateTime(e.created_at, zone) },
            { label: t("hooks.state"), cell: (e) => (e.enabled ? t("hooks.enabled") : t("hooks.disabled")) },
            { label: t("hooks.delivered_through"), num: true, cell: (e) => number(e.delivered_through) },
            {
              label: "",
              cell: (e) =>
                h(
                  "div",
                  { class: "inline" },
                  // A deleted endpoint is gone with its log (the API answers 404).
                  e.enabled
                    ? h("button", { type: "button", class: "link", text: t("hooks.show_log"), onclick: () => deliveries(ctx, e, log, zone) })
                    : null,
                  e.enabled
                    ? h("button", {
                        type: "button",
                        class: "link danger",
                        text: t("hooks.disable"),
                        onclick: async () => {
                          if (!confirm(t("hooks.disable_confirm", { url: e.url }))) return;
                          await api.del(tenantPath(ctx, `/webhooks/${api.enc(e.id)}`));
                          await refresh();
                        },
                      })
                    : null,
                ),
            },
          ],
          page.endpoints,
          { empty: t("hooks.none") },
        ),
      ),
      hookForm(ctx, refresh),
      log,
    );
  };
  await refresh();
  return root;
}

function hookForm(ctx, refresh) {
  const url = h("input", { type: "url", name: "url", required: true, placeholder: "https://billing.example.com/minutely" });
  const button = h("button", { type: "submit", text: t("hooks.add") });
  const result = h("div", { role: "status" });
  const form = h("form", { class: "inline-form" }, field(t("hooks.url"), url, { name: "url" }), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(button, async () => {
      try {
        const created = await api.post(tenantPath(ctx, "/webhooks"), { url: url.value.trim() });
        await refresh();
        const box = document.querySelector("#hook-secret");
        if (box) clear(box, h("p", { text: t("hooks.secret_once") }), h("code", { class: "secret", text: created.secret }));
      } catch (e) {
        clear(result, errorBox(e));
      }
    });
  });
  return section(t("hooks.add_title"), h("p", { class: "subtle", text: t("hooks.intro") }), form, h("div", { id: "hook-secret", class: "alert" }), result);
}

async function deliveries(ctx, endpoint, container, zone) {
  try {
    const data = await api.get(tenantPath(ctx, `/webhooks/${api.enc(endpoint.id)}/deliveries`));
    const outcome = (o) => ({ delivered: t("hooks.delivered"), failed: t("hooks.failed"), gave_up: t("hooks.gave_up") })[o] || o;
    clear(
      container,
      section(
        t("hooks.log_title", { url: endpoint.url }),
        table(
          [
            { label: t("hooks.at"), cell: (d) => dateTime(d.at, zone) },
            { label: t("hooks.event"), cell: (d) => `${d.event_sequence} · ${d.event_id}` },
            { label: t("hooks.attempt"), num: true, cell: (d) => number(d.attempt) },
            { label: t("hooks.outcome"), cell: (d) => outcome(d.outcome) },
            { label: t("hooks.http_status"), cell: (d) => (d.http_status ? String(d.http_status) : "—") },
            { label: t("hooks.error"), cell: (d) => d.error || "" },
          ],
          data.deliveries || [],
          { empty: t("hooks.no_deliveries") },
        ),
      ),
    );
  } catch (error) {
    clear(container, errorBox(error));
  }
}
