// The toll-fraud guard's console pages in a real browser against a real server: an attack made
// through call control, then seen, lifted and configured on the tenant's page, and the operator's
// default mode and high-risk list.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, setUpTenant, browser, signIn, openPage, api } from "./lib.mjs";

let server;
let keys;

before(async () => {
  server = await startServer();
  keys = await setUpTenant(server);
});

after(async () => {
  if (server) await server.stop();
});

const T = "/v1/tenants/contoso";
const ORGANIZER = "bruno.martin@contoso.example";
// Austria premium in the sample card (`+4390`): refused while the tenant has not opted in.
const PREMIUM = "+43 900 123456";
const PARIS = "+33 1 44 55 66 77";

const eur = (amount) => new Intl.NumberFormat("en-US", { style: "currency", currency: "EUR" }).format(amount);

function authorize(id, destination, organizer = ORGANIZER) {
  return api(server, keys.bridge, "POST", `${T}/calls/${id}/authorize`, {
    conference_id: "conf-attack",
    organizer,
    direction: "dial_out",
    destination_number: destination,
  });
}

/** A gauge's value, exactly. */
function gauge(page, id, value) {
  return page.locator(`[data-stat="${id}"] .stat-value`, { hasText: new RegExp(`^${value.replace(/[()]/g, "\\$&")}$`) });
}

test("an attack suspends its organizer: the gauges and incidents show it, Lift ends it, a bad country changes nothing", async () => {
  const view = await api(server, keys.admin, "GET", `${T}/fraud`);
  await api(server, keys.admin, "PUT", `${T}/fraud`, { ...view.settings, mode: "enforce" });
  // Three refusals of the guard in a day suspend the organizer's dial-out (C46).
  for (const id of ["attack-1", "attack-2", "attack-3"]) {
    const answer = await authorize(id, PREMIUM);
    assert.equal(answer.decision, "deny", JSON.stringify(answer));
    assert.equal(answer.reason, "fraud_premium_not_enabled", JSON.stringify(answer));
  }
  const suspended = await authorize("attack-4", PARIS);
  assert.equal(suspended.reason, "fraud_dialout_suspended", JSON.stringify(suspended));
  const attacked = await api(server, keys.admin, "GET", `${T}/fraud`);
  assert.equal(attacked.organizers_suspended, 1);

  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, keys.admin);
    await openPage(page, "fraud");
    await gauge(page, "mode", "Enforce").waitFor();
    await gauge(page, "organizers-suspended", "1").waitFor();
    await gauge(page, "suspended", "No").waitFor();
    await gauge(page, "alert-open", "Yes").waitFor();
    await gauge(page, "learning", "Yes").waitFor();
    await gauge(page, "exposure-hour", eur(attacked.exposure_hour)).waitFor();
    await gauge(page, "exposure-day", eur(attacked.exposure_day)).waitFor();
    await gauge(page, "live-dial-outs", "0").waitFor();
    assert.equal(await page.locator('[data-stat="organizers-suspended"]').getAttribute("class"), "stat bad");

    const incidents = page.locator("#fraud-incidents tbody tr");
    const suspension = incidents.filter({ hasText: "fraud.suspended" });
    await suspension.first().waitFor();
    assert.equal(await suspension.count(), 1);
    const suspensionText = await suspension.textContent();
    assert.ok(suspensionText.includes("Dial-out suspended"), suspensionText);
    assert.ok(suspensionText.includes(ORGANIZER), suspensionText);
    assert.ok(suspensionText.includes("Premium destinations are not enabled for the tenant."), suspensionText);
    const alerts = incidents.filter({ hasText: "fraud.alert" });
    assert.ok((await alerts.count()) >= 3, `alerts: ${await alerts.count()}`);
    const alert = (await alerts.first().locator("td").allTextContents()).join(" | ");
    for (const part of ["Alert", "Premium destinations are not enabled for the tenant.", "fraud_premium_not_enabled", ORGANIZER, "Austria (AT)", "Refused or cut"]) {
      assert.ok(alert.includes(part), `${part} in ${alert}`);
    }
    // The suspension's own refusal is an alert with its reason too.
    await incidents.filter({ hasText: "fraud_dialout_suspended" }).first().waitFor();

    // Lifting the organizer: the gauge goes back to 0 and the lifting is an incident.
    await page.locator("#fraud-lift-all-button").waitFor();
    await page.locator('#fraud-lift-form input[name="organizer"]').fill(ORGANIZER);
    await page.locator("#fraud-lift-form button[type=submit]").click();
    await gauge(page, "organizers-suspended", "0").waitFor();
    const lifted = incidents.filter({ hasText: "fraud.lifted" });
    await lifted.first().waitFor();
    const liftedText = await lifted.textContent();
    assert.ok(liftedText.includes(ORGANIZER) && liftedText.includes("Tenant admin"), liftedText);
    assert.equal((await api(server, keys.admin, "GET", `${T}/fraud`)).organizers_suspended, 0);
    assert.equal(await page.locator("#fraud-lift-all-button").count(), 0, "nothing left to lift");
    const again = await authorize("after-lift", PARIS);
    assert.equal(again.decision, "allow", JSON.stringify(again));

    // A bad country code: the server's refusal, naming the field, and nothing changed.
    const approve = page.locator("#fraud-approve-form");
    await approve.locator('input[name="country"]').fill("Z1");
    await approve.locator("button[type=submit]").click();
    await approve.locator(".form-error .error-message").waitFor();
    const detail = await approve.locator(".form-error .error-detail").textContent();
    assert.ok(detail.startsWith('country: "Z1"'), detail);
    assert.deepEqual((await api(server, keys.admin, "GET", `${T}/fraud`)).approved_countries, []);
    await page.locator("#fraud-countries p.empty", { hasText: "No country approved." }).waitFor();
    // A good one is listed at once.
    await approve.locator('input[name="country"]').fill("br");
    await approve.locator("button[type=submit]").click();
    await page.locator('#fraud-approved [data-country="BR"]', { hasText: "Brazil (BR)" }).waitFor();
    assert.equal(await approve.locator(".form-error").textContent(), "");
    assert.deepEqual((await api(server, keys.admin, "GET", `${T}/fraud`)).approved_countries, ["BR"]);
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
  }
});

test("the policy simulator says when the toll-fraud guard refuses", async () => {
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, keys.admin);
    await openPage(page, "simulator");
    await page.locator('#sim-form select[name="organizer"]').selectOption("chloe.bernard@contoso.example");
    await page.locator('#sim-form input[name="destination_number"]').fill(PREMIUM);
    await page.locator("#sim-form button[type=submit]").click();
    const verdict = page.locator("#sim-result .verdict.deny");
    await verdict.waitFor();
    const text = await verdict.textContent();
    assert.ok(text.includes("Premium destinations are not enabled for the tenant."), text);
    assert.ok(text.includes("fraud_premium_not_enabled · C45"), text);
    assert.equal(await verdict.locator("#sim-fraud-note").textContent(), "Refused by the toll-fraud guard. Fraud guard");
    // Any other refusal has no such note.
    await page.locator('#sim-form input[name="destination_number"]').fill("+1 999");
    await page.locator("#sim-form button[type=submit]").click();
    await page.locator("#sim-result .verdict.deny", { hasText: "invalid_number" }).waitFor();
    assert.equal(await page.locator("#sim-fraud-note").count(), 0);
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
  }
});

test("the settings form changes its three settings and keeps the others; the page in German", async () => {
  const view = await api(server, keys.admin, "GET", `${T}/fraud`);
  const others = { allow: [{ prefix: "+4470", expires: "2027-06-01T00:00:00Z" }], floor_hour: "50", floor_day: null, raise: { percent: 300, until: "2027-03-09T00:00:00Z" } };
  await api(server, keys.admin, "PUT", `${T}/fraud`, { ...view.settings, ...others });
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, keys.admin);
    await openPage(page, "fraud");
    const form = page.locator("#fraud-settings-form");
    assert.equal(await form.locator('select[name="mode"]').inputValue(), "enforce");
    await form.locator('select[name="mode"]').selectOption("monitor");
    await form.locator('input[name="premium_enabled"]').check();
    await form.locator('input[name="start_hour"]').fill("8");
    await form.locator('input[name="end_hour"]').fill("18");
    await form.locator('input[name="weekday-sat"]').check();
    await form.locator("button[type=submit]").click();
    await form.locator(".saved", { hasText: "Saved. Mode in force: Monitor." }).waitFor();
    await gauge(page, "mode", "Monitor").waitFor();
    const saved = await api(server, keys.admin, "GET", `${T}/fraud`);
    assert.deepEqual(saved.settings, {
      mode: "monitor",
      premium_enabled: true,
      business_hours: { start_hour: 8, end_hour: 18, weekdays: ["mon", "tue", "wed", "thu", "fri", "sat"] },
      ...others,
    });
    // A refused setting is shown with the server's message, and nothing changes.
    await form.locator('input[name="end_hour"]').fill("6");
    await form.locator("button[type=submit]").click();
    await form.locator(".form-error .error-detail", { hasText: "business_hours" }).waitFor();
    assert.deepEqual((await api(server, keys.admin, "GET", `${T}/fraud`)).settings, saved.settings);
    // Back to the operator's default: the gauge says whose mode is in force.
    await form.locator('input[name="end_hour"]').fill("18");
    await form.locator('select[name="mode"]').selectOption("");
    await form.locator("button[type=submit]").click();
    await gauge(page, "mode", "Off (operator's default)").waitFor();
    assert.equal((await api(server, keys.admin, "GET", `${T}/fraud`)).settings.mode, null);

    await page.locator("#lang-select").selectOption("de");
    await page.locator("#page > h1", { hasText: "Betrugsschutz" }).waitFor();
    assert.equal(await page.locator('#nav a[data-page="fraud"]').textContent(), "Betrugsschutz");
    await gauge(page, "mode", "Aus (Standard des Betreibers)").waitFor();
    assert.equal(await page.locator('[data-stat="organizers-suspended"] .stat-label').textContent(), "Gesperrte Organisatoren");
    assert.equal(await page.locator('[data-stat="exposure-day"] .stat-label').textContent(), "Risikobetrag, letzte 24 Stunden");
    assert.equal(await page.locator("#fraud-settings-form h2").textContent(), "Einstellungen");
    assert.equal(await page.locator("#fraud-approve-form h2").textContent(), "Land genehmigen");
    await page.locator("section h2", { hasText: "Vorfälle" }).waitFor();
    await page.locator("#fraud-incidents tbody tr", { hasText: "Sperre aufgehoben" }).first().waitFor();
    await page.locator("#fraud-incidents th", { hasText: "Durchgesetzt" }).waitFor();
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
    await api(server, keys.admin, "PUT", "/v1/me/preferences", { lang: "en" });
  }
});

const LIST_HEADER = "prefix,action,category,source,expires,note";

test("the operator uploads the high-risk list: a bad file shows its row errors, a good one is a new version", async () => {
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, keys.op);
    await openPage(page, "fraud-settings");
    const before = await api(server, keys.op, "GET", "/v1/fraud");
    await gauge(page, "list-version", String(before.list_version)).waitFor();
    await gauge(page, "default-mode", "Off").waitFor();

    const bad = [LIST_HEADER, "49x,block,irsf,operator,,", "+882,zap,satellite,operator,,", "+4470,step_up,personal numbers,regulator,2027-01-01T00:00:00Z,", ""].join("\n");
    const file = page.locator('#guard-list-form input[type="file"]');
    await file.setInputFiles({ name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from(bad) });
    await page.locator("#guard-list-form button[type=submit]").click();
    const result = page.locator("#guard-list-result");
    await result.locator(".alert.error", { hasText: "The file was refused: 2 bad row(s); nothing was changed." }).waitFor();
    const rows = result.locator("tbody tr");
    assert.equal(await rows.count(), 2);
    const first = await rows.nth(0).locator("td").allTextContents();
    assert.deepEqual(first.slice(0, 2), ["2", "prefix"]);
    assert.match(first[2], /49x/);
    const second = await rows.nth(1).locator("td").allTextContents();
    assert.deepEqual(second.slice(0, 2), ["3", "action"]);
    assert.match(second[2], /zap/);
    assert.equal((await api(server, keys.op, "GET", "/v1/fraud")).list_version, before.list_version);

    const good = [LIST_HEADER, "+882,block,satellite,operator,,international networks", "+4470,step_up,personal numbers,regulator,2027-01-01T00:00:00Z,", ""].join("\n");
    await file.setInputFiles({ name: "good.csv", mimeType: "text/csv", buffer: Buffer.from(good) });
    await page.locator("#guard-list-form button[type=submit]").click();
    const version = before.list_version + 1;
    await result.locator(".ok-line", { hasText: `List version ${version} is in force, with 2 entries.` }).waitFor();
    await gauge(page, "list-version", String(version)).waitFor();
    await gauge(page, "list-entries", "2").waitFor();
    const now = await api(server, keys.op, "GET", "/v1/fraud");
    assert.equal(now.list_version, version);
    assert.equal(now.list_entries, 2);

    // The default mode: only `default_mode` is sent.
    await page.locator('#guard-mode-form select[name="default_mode"]').selectOption("monitor");
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.method() === "PUT" && r.url().endsWith("/v1/fraud")),
      page.locator("#guard-mode-form button[type=submit]").click(),
    ]);
    assert.deepEqual(JSON.parse(request.postData()), { default_mode: "monitor" });
    await gauge(page, "default-mode", "Monitor").waitFor();
    assert.equal((await api(server, keys.op, "GET", "/v1/fraud")).default_mode, "monitor");
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
  }
});
