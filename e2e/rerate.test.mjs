// Rerating in a real browser against a real server: a corrected rate-card version replaces the
// stored one (the import page's "replace" checkbox), the operator's Rerate page shows the
// difference per call and in total, runs the rerate after a confirmation, and lists the run.
// Rerating is a refund then a charge per changed call, in the canonical order (C22); running the
// same period twice changes nothing the second time.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { startServer, setUpTenant, browser, signIn, openPage, api, TOOLS } from "./lib.mjs";

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
const rateText = (amount) => new Intl.NumberFormat("en-US", { style: "currency", currency: "EUR", minimumFractionDigits: 2, maximumFractionDigits: 6 }).format(amount);

// The sample card's Japan dial-out rate, and the corrected one: the only call it prices is e2e-2
// (12 minutes to +81, paid with Communications Credits).
const OLD_JAPAN = "0.0241";
const NEW_JAPAN = "0.0500";

function corrected() {
  const card = execFileSync(TOOLS, ["gen", "rates", "--currency", "EUR"], { encoding: "utf8", maxBuffer: 1 << 26 });
  const row = /^dial_out,\+81,,Japan,JP,false,0\.0241,/m;
  assert.match(card, row, "the sample card prices Japan at 0.0241");
  return card.replace(row, `dial_out,+81,,Japan,JP,false,${NEW_JAPAN},`);
}

/** A calendar day in a time zone, `days` from today. */
function dayIn(timeZone, days) {
  const at = new Date(Date.now() + days * 86_400_000);
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(at);
}

async function openTenantPage(page, id) {
  await openPage(page, "tenants");
  await page.locator("table tr", { hasText: "contoso" }).locator("button", { hasText: "Open" }).click();
  await page.locator(`#nav a[data-page="${id}"]`).waitFor();
  await openPage(page, id);
}

test("a corrected card version is refused without the checkbox and replaces the stored one with it", async () => {
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, keys.op);
    await openPage(page, "rate-cards");
    const file = { name: "corrected.csv", mimeType: "text/csv", buffer: Buffer.from(corrected()) };
    await page.locator('#import-form input[type="file"]').setInputFiles(file);
    await page.locator("#import-form button[type=submit]").click();
    // The conflict is refused with the server's message, not as bad rows.
    const refusal = page.locator("#import-result .alert.error");
    await refusal.waitFor();
    assert.equal(await refusal.locator(".error-message").textContent(), "The resource already exists.");
    assert.match(await refusal.locator(".error-detail").textContent(), /2025-01-01/);
    const card = await api(server, keys.op, "GET", "/v1/rate-cards/EUR", undefined, null);
    assert.match(card, /^dial_out,\+81,,Japan,JP,false,0\.0241,/m, "nothing was replaced without the checkbox");

    await page.locator('#import-form input[name="replace"]').check();
    await page.locator('#import-form input[type="file"]').setInputFiles(file);
    await page.locator("#import-form button[type=submit]").click();
    await page.locator("#import-result", { hasText: "1 version(s) replaced" }).waitFor();
    const after = await api(server, keys.op, "GET", "/v1/rate-cards/EUR", undefined, null);
    assert.match(after, /^dial_out,\+81,,Japan,JP,false,0\.05(00)?,/m, "the corrected version is the card now");
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
  }
});

test("the Rerate page shows the difference, runs the rerate and lists the run", async () => {
  // The corrected version, through the API (unchanged when the test above already imported it).
  await api(server, keys.op, "POST", "/v1/rate-cards/EUR?replace=true", corrected(), "text/csv");
  const zone = "Europe/Paris";
  const from = dayIn(zone, -1);
  const to = dayIn(zone, 0);
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, keys.op);
    await openTenantPage(page, "rerate");
    const form = page.locator("#rerate-form");
    await form.locator('input[name="from"]').fill(from);
    await form.locator('input[name="to"]').fill(to);
    await form.locator("button[type=submit]").click();
    const result = page.locator("#rerate-result");
    await result.locator("#rerate-totals").waitFor();

    // The same dry run through the API: the page shows its figures.
    const startOf = (day) => new Date(`${day}T00:00:00${offsetOf(zone, day)}`).toISOString().replace(/\.\d+Z$/, "Z");
    const next = new Date(Date.parse(`${to}T12:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    const dry = await api(server, keys.op, "POST", "/v1/tenants/contoso/rerate", { from: startOf(from), to: startOf(next), dry_run: true });
    assert.equal(dry.changed, 1, JSON.stringify(dry));
    const changed = dry.items.filter((i) => !i.skipped);
    assert.deepEqual(changed.map((i) => i.call_id), ["e2e-2"]);
    const item = changed[0];
    assert.equal(item.old_rate_per_minute, OLD_JAPAN);
    assert.equal(Number(item.new_rate_per_minute), Number(NEW_JAPAN));
    assert.ok(Number(item.difference) > 0, "a higher rate charges more");
    const stat = (id) => result.locator(`[data-stat="${id}"] .stat-value`).textContent();
    assert.equal(await stat("calls"), String(dry.calls));
    assert.equal(await stat("changed"), "1");
    assert.equal(await stat("refunded"), eur(dry.refunded));
    assert.equal(await stat("charged"), eur(dry.charged));
    assert.equal(await stat("net"), eur(dry.net));
    const rows = result.locator("tbody tr");
    assert.equal(await rows.count(), dry.items.length);
    const cells = await result.locator("tbody tr", { hasText: "e2e-2" }).locator("td").allTextContents();
    assert.equal(cells[0], "e2e-2");
    assert.equal(cells[2], eur(item.old_amount));
    assert.equal(cells[3], eur(item.new_amount));
    assert.equal(cells[4], eur(item.difference));
    assert.equal(cells[5], "Communications Credits");
    assert.equal(cells[7], `${rateText(OLD_JAPAN)} → ${rateText(NEW_JAPAN)}`);
    assert.equal(cells[9], "");
    // A dry run changed nothing.
    assert.deepEqual(await api(server, keys.op, "GET", "/v1/tenants/contoso/rerates"), []);

    // The run, after the confirmation.
    const dialog = new Promise((resolve) =>
      page.once("dialog", async (d) => {
        const message = d.message();
        await d.accept();
        resolve(message);
      }),
    );
    await result.locator("#rerate-run-button").click();
    assert.equal(await dialog, `Rerate 1 call(s)? The wallet's net change is ${eur(dry.net)}.`);
    const done = result.locator("p.ok-line[data-run]");
    await done.waitFor();
    const id = await done.getAttribute("data-run");
    assert.equal(await done.textContent(), `Rerated: run ${id}, 1 call(s) changed, net ${eur(dry.net)}.`);
    const runs = await api(server, keys.op, "GET", "/v1/tenants/contoso/rerates");
    assert.deepEqual(runs.map((r) => r.id), [id]);

    // The run is listed; its calls open under the list.
    const row = page.locator("#rerate-runs tbody tr", { hasText: id });
    await row.waitFor();
    const runCells = await row.locator("td").allTextContents();
    assert.equal(runCells[4], "1");
    assert.equal(runCells[6], eur(dry.net));
    await row.locator("button", { hasText: "Show calls" }).click();
    const detail = page.locator("#rerate-detail");
    await detail.locator("h2", { hasText: `Run ${id}` }).waitFor();
    assert.equal(await detail.locator("tbody tr", { hasText: "e2e-2" }).locator("td").nth(4).textContent(), eur(item.difference));

    // The same period again: nothing left to rerate.
    await form.locator("button[type=submit]").click();
    await result.locator(".ok-line", { hasText: "No call's charge changes" }).waitFor();
    assert.equal(await result.locator("#rerate-run-button").count(), 0);

    // Chloé may now dial domestic numbers only: rating refuses her call to Japan today, so the
    // call is kept as it was and listed with the reason.
    await api(server, keys.op, "PUT", "/v1/tenants/contoso/users/chloe.bernard@contoso.example", {
      display_name: "Chloé Bernard",
      toll_free_dial_in: true,
      dial_out_policy: "DialoutCPCDomesticPSTNDisabled",
    });
    const kept = await api(server, keys.op, "POST", "/v1/tenants/contoso/rerate", { from: startOf(from), to: startOf(next), dry_run: true });
    const skipped = kept.items.find((i) => i.call_id === "e2e-2");
    assert.equal(skipped && skipped.skipped, "policy_domestic_only", JSON.stringify(kept));
    await form.locator("button[type=submit]").click();
    const keptRow = result.locator("tbody tr.skipped", { hasText: "e2e-2" });
    await keptRow.waitFor();
    assert.equal(await result.locator('[data-stat="skipped"] .stat-value').textContent(), String(kept.skipped));
    assert.equal(await keptRow.locator("td").nth(9).textContent(), "The organizer's dial-out policy allows domestic destinations only. policy_domestic_only");

    // A period that ends before it starts is refused with the server's message.
    await form.locator('input[name="from"]').fill(to);
    await form.locator('input[name="to"]').fill(from);
    await form.locator("button[type=submit]").click();
    await result.locator(".alert.error .error-message").waitFor();
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
  }
});

test("a tenant admin has no Rerate page", async () => {
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, keys.admin);
    await page.locator('#nav a[data-page="wallet"]').waitFor();
    assert.equal(await page.locator('#nav a[data-page="rerate"]').count(), 0);
    const refused = await fetch(`${server.url}/v1/tenants/contoso/rerates`, { headers: { Authorization: `Bearer ${keys.admin}` } });
    assert.equal(refused.status, 403);
  } finally {
    await b.close();
  }
});

/** The UTC offset (`+01:00`) of a time zone at noon of a day. */
function offsetOf(timeZone, day) {
  const noon = new Date(`${day}T12:00:00Z`);
  const name = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" }).formatToParts(noon).find((p) => p.type === "timeZoneName").value;
  const match = /GMT([+-]\d{2}:\d{2})?/.exec(name);
  return match && match[1] ? match[1] : "Z";
}
