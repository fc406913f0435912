// The operator's console in a real browser against a real server.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, operatorKey, browser, signIn, openPage } from "./lib.mjs";

let server;
let op;

before(async () => {
  server = await startServer();
  op = await operatorKey(server);
});

after(async () => {
  if (server) await server.stop();
});

const BAD_CARD = [
  "kind,key,origin,name,country,premium,rate_per_minute,connection_fee,first_block_s,increment_s,effective_from",
  "dial_out,+33,,France,FR,false,abc,0,60,60,2026-01-01T00:00:00Z",
  "dial_out,33,,France,FR,false,0.1000,0,60,60,2026-01-01T00:00:00Z",
  "dial_out,+44,,United Kingdom,GB,false,0.0300,0,60,60,2026-01-01T00:00:00Z",
  "",
].join("\n");

test("a bad rate card is refused with its row errors, a good one is imported", async () => {
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, op);
    assert.equal(await page.locator("#who-kind").textContent(), "Operator");
    await openPage(page, "rate-cards");
    await page.locator('#import-form input[type="file"]').setInputFiles({ name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from(BAD_CARD) });
    await page.locator("#import-form button[type=submit]").click();
    const result = page.locator("#import-result");
    await result.locator(".alert.error", { hasText: "The file was refused: 2 bad row(s); nothing was changed." }).waitFor();
    const rows = result.locator("tbody tr");
    assert.equal(await rows.count(), 2);
    const first = await rows.nth(0).locator("td").allTextContents();
    assert.equal(first[0], "2");
    assert.equal(first[1], "rate_per_minute");
    assert.match(first[2], /abc/);
    const second = await rows.nth(1).locator("td").allTextContents();
    assert.equal(second[0], "3");
    assert.equal(second[1], "key");

    const good = BAD_CARD.replace(",abc,", ",0.0240,").replace("dial_out,33,", "dial_out,+336,");
    await page.locator('#import-form input[type="file"]').setInputFiles({ name: "good.csv", mimeType: "text/csv", buffer: Buffer.from(good) });
    await page.locator("#import-form button[type=submit]").click();
    await page.locator("#import-result", { hasText: "Imported: 1 version(s) added, 0 unchanged." }).waitFor();
    await page.locator("table tr", { hasText: "EUR" }).first().waitFor();
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
  }
});

test("the operator sees system health and creates a tenant", async () => {
  const b = await browser();
  try {
    const { page } = b;
    await signIn(page, server, op);
    await openPage(page, "health");
    await page.locator(".stat", { hasText: "Readiness" }).locator(".stat-value", { hasText: "OK" }).waitFor();
    await openPage(page, "tenants");
    const form = page.locator("form", { has: page.locator('input[name="id"]') }).first();
    await form.locator('input[name="id"]').fill("fabrikam");
    await form.locator('input[name="name"]').fill("Fabrikam GmbH");
    await form.locator('input[name="country"]').fill("DE");
    await form.locator('input[name="currency"]').fill("EUR");
    await form.locator('input[name="timezone"]').fill("Europe/Berlin");
    await form.locator("button[type=submit]").click();
    await page.locator("table tr", { hasText: "Fabrikam GmbH" }).waitFor();
  } finally {
    await b.close();
  }
});
