// The tenant admin's console in a real browser against a real server.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
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

const eur = (amount) => new Intl.NumberFormat("en-US", { style: "currency", currency: "EUR" }).format(amount);

test("funding the wallet changes the balance and the ledger", async () => {
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, keys.admin);
    await openPage(page, "wallet");
    const before = await api(server, keys.admin, "GET", "/v1/tenants/contoso/wallet");
    const balance = page.locator('[data-stat="balance"] .stat-value');
    assert.equal(await balance.textContent(), eur(before.balance));
    await page.locator('#fund-form input[name="amount"]').fill("120");
    await page.locator('#fund-form input[name="reference"]').fill("PO-E2E-7");
    await page.locator("#fund-form button[type=submit]").click();
    const expected = eur((Number(before.balance) * 100 + 12000) / 100);
    await page.locator('[data-stat="balance"] .stat-value', { hasText: expected }).waitFor();
    const row = page.locator("#ledger table tr", { hasText: "PO-E2E-7" });
    await row.waitFor();
    const text = await row.textContent();
    assert.match(text, /Funding/);
    assert.ok(text.includes(eur(120)), text);
    assert.ok(text.includes(expected), `running balance ${expected} in ${text}`);
    // The same reference again is refused with the server's message next to the field.
    await page.locator('#fund-form input[name="amount"]').fill("120");
    await page.locator('#fund-form input[name="reference"]').fill("PO-E2E-7");
    await page.locator("#fund-form button[type=submit]").click();
    await page.locator('#fund-form [data-field="reference"] .error-message').waitFor();
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
  }
});

test("auto-recharge below the minimum is refused with a localized message, then saved", async () => {
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, keys.admin);
    await openPage(page, "wallet");
    const form = page.locator("#auto-recharge-form");
    await form.locator('input[name="trigger"]').fill("10");
    await form.locator('input[name="amount"]').fill("100");
    await form.locator("button[type=submit]").click();
    const error = form.locator('[data-field="trigger"] .error-message');
    await error.waitFor();
    assert.equal(await error.textContent(), "The amount is below the minimum.");
    await form.locator('input[name="trigger"]').fill("60");
    await form.locator("button[type=submit]").click();
    await form.locator(".saved", { hasText: `Saved: below ${eur(60)}, ${eur(100)} is recharged.` }).waitFor();
    const wallet = await api(server, keys.admin, "GET", "/v1/tenants/contoso/wallet");
    assert.equal(wallet.auto_recharge.trigger, "60.00");
  } finally {
    await b.close();
  }
});

test("the policy simulator says who pays", async () => {
  const body = { organizer: "bruno.martin@contoso.example", direction: "dial_out", destination_number: "+81 3 1234 5678", duration_s: 600 };
  const expected = await api(server, keys.admin, "POST", "/v1/tenants/contoso/simulate", body);
  const fundingLabels = {
    included: "Included in the subscription",
    add_on: "US/Canada dial-out add-on",
    pool: "Dial-out minute pool",
    pool_and_credits: "Minute pool, then Communications Credits",
    credits: "Communications Credits",
  };
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, keys.admin);
    await openPage(page, "simulator");
    await page.locator('#sim-form select[name="organizer"]').selectOption(body.organizer);
    await page.locator('#sim-form input[name="destination_number"]').fill(body.destination_number);
    await page.locator("#sim-form button[type=submit]").click();
    const result = page.locator("#sim-result .verdict");
    await result.waitFor();
    assert.equal(await result.locator("h2").textContent(), expected.decision === "allow" ? "Allowed" : "Denied");
    const text = await result.textContent();
    if (expected.decision === "allow") {
      assert.ok(text.includes(`Who pays${fundingLabels[expected.funding]}`), text);
      assert.ok(text.includes(`Cost for 10 min${eur(expected.cost ?? expected.charge.amount)}`), text);
      assert.ok(text.includes("Japan"), text);
    }
    // An invalid number is refused with the server's localized reason.
    await page.locator('#sim-form input[name="destination_number"]').fill("+1 999");
    await page.locator("#sim-form button[type=submit]").click();
    await page.locator("#sim-result .alert.error, #sim-result .verdict.deny").waitFor();
  } finally {
    await b.close();
  }
});

test("the PSTN export downloads exactly the API's bytes", async () => {
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, keys.admin);
    await openPage(page, "reports");
    const form = page.locator("#download-pstn");
    await form.locator("p.note", { hasText: "One row per charged call" }).waitFor();
    const from = await form.locator('input[type="date"]').nth(0).inputValue();
    const to = await form.locator('input[type="date"]').nth(1).inputValue();
    const [download] = await Promise.all([page.waitForEvent("download"), form.locator("button[type=submit]").click()]);
    const saved = readFileSync(await download.path());
    const direct = await fetch(`${server.url}/v1/tenants/contoso/reports/pstn-usage?from=${from}&to=${to}`, {
      headers: { Authorization: `Bearer ${keys.admin}` },
    });
    const bytes = Buffer.from(await direct.arrayBuffer());
    assert.ok(bytes.toString("utf8").startsWith("UsageId,Call ID,"), "a CSV with its header");
    assert.ok(bytes.toString("utf8").split("\r\n").length > 3, "rows for the ingested calls");
    assert.ok(saved.equals(bytes), "the download is byte for byte the API's answer");
    assert.match(download.suggestedFilename(), /\.csv$/);
  } finally {
    await b.close();
  }
});

test("Japanese is applied, kept after a reload and at the next sign-in", async () => {
  const b = await browser("en-US");
  try {
    const { page } = b;
    await signIn(page, server, keys.admin);
    assert.equal(await page.locator('#nav a[data-page="overview"]').textContent(), "Overview");
    await page.locator("#lang-select").selectOption("ja");
    await page.locator('#nav a[data-page="wallet"]', { hasText: "ウォレット" }).waitFor();
    await openPage(page, "wallet");
    assert.equal(await page.locator("#page h1").textContent(), "ウォレット");
    await page.locator('[data-stat="balance"] .stat-label', { hasText: "残高" }).waitFor();
    await page.reload();
    await page.locator('#nav a[data-page="overview"]', { hasText: "概要" }).waitFor();
    assert.equal(await page.locator("html").getAttribute("lang"), "ja");
    // A refusal from the API comes back in Japanese too.
    await openPage(page, "wallet");
    const form = page.locator("#auto-recharge-form");
    await form.locator('input[name="trigger"]').fill("10");
    await form.locator("button[type=submit]").click();
    await form.locator('[data-field="trigger"] .error-message', { hasText: "金額が最小額を下回っています。" }).waitFor();
    await page.locator("#sign-out").click();
  } finally {
    await b.close();
  }
  const again = await browser("en-US");
  try {
    const { page } = again;
    await page.goto(`${server.url}/`);
    assert.equal(await page.locator("#signin h1").textContent(), "Sign in");
    await signIn(page, server, keys.admin);
    await page.locator('#nav a[data-page="overview"]', { hasText: "概要" }).waitFor();
    assert.equal(await page.locator("#sign-out").textContent(), "サインアウト");
  } finally {
    await again.close();
    await api(server, keys.admin, "PUT", "/v1/me/preferences", { lang: "en" });
  }
});

test("a statement opens as a PDF", async () => {
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, keys.admin);
    await openPage(page, "reports");
    const month = new Date().toISOString().slice(0, 7);
    await page.locator('#statement-form input[name="month"]').fill(month);
    const [response, download] = await Promise.all([
      page.waitForResponse((r) => r.url().includes(`/statements/${month}`) && r.url().includes("format=pdf")),
      page.waitForEvent("download"),
      page.locator("#statement-form button", { hasText: "Download PDF" }).click(),
    ]);
    assert.equal(response.status(), 200);
    assert.match(response.headers()["content-type"], /^application\/pdf/);
    const bytes = readFileSync(await download.path());
    assert.equal(bytes.subarray(0, 5).toString("latin1"), "%PDF-");
  } finally {
    await b.close();
  }
});

test("the plan advisor shows each scenario and the saving", async () => {
  const month = new Date().toISOString().slice(0, 7);
  const advice = await api(server, keys.admin, "GET", `/v1/tenants/contoso/advice?from=${month}&to=${month}`);
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, keys.admin);
    await openPage(page, "reports");
    const section = page.locator("section", { has: page.locator("#advice-result") });
    await section.locator('input[type="month"]').nth(0).fill(month);
    await section.locator('input[type="month"]').nth(1).fill(month);
    await section.locator("button[type=submit]").click();
    const result = page.locator("#advice-result");
    await result.locator(".verdict-line").waitFor();
    const text = await result.textContent();
    for (const name of ["Current licenses", "Everyone pay-per-minute", "Everyone on subscription", "Cheapest mix per user"]) {
      assert.ok(text.includes(name), `${name} in ${text}`);
    }
    assert.equal(await result.locator(".verdict-line").textContent(), `Saving with “Cheapest mix per user”: ${eur(advice.saving)}.`);
    assert.ok(text.includes("Bruno Martin"), text);
  } finally {
    await b.close();
  }
});
