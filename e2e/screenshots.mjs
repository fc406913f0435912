// Screenshots of the console's main pages in each language, on a demo server.

import { mkdirSync } from "node:fs";
import path from "node:path";
import { ROOT, startServer, operatorKey, browser, signIn, openPage } from "./lib.mjs";

const LANGS = ["en", "ja", "zh-CN", "fr", "de"];
const TENANT_PAGES = ["overview", "usage", "calls", "refused", "wallet", "users", "simulator", "fraud", "numbers", "reports"];
const OPERATOR_PAGES = ["tenants", "rate-cards", "rate-lookup", "countries", "fraud-settings", "keys", "health"];
const OUT = path.resolve(ROOT, process.env.CARGO_TARGET_DIR || "target", "console-screenshots");

async function shoot(page, lang, id) {
  await openPage(page, id);
  await page.waitForTimeout(600);
  const file = path.join(OUT, lang, `${id}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(file);
}

const server = await startServer({ demo: true });
try {
  const op = await operatorKey(server);
  // Let the demo traffic produce some calls, refusals and charts.
  await new Promise((r) => setTimeout(r, 8000));
  for (const lang of LANGS) {
    mkdirSync(path.join(OUT, lang), { recursive: true });
    for (const [key, pages] of [[server.adminKey, TENANT_PAGES], [op, OPERATOR_PAGES]]) {
      const b = await browser(lang === "zh-CN" ? "zh-CN" : lang);
      try {
        await signIn(b.page, server, key);
        await b.page.locator("#lang-select").selectOption(lang);
        await b.page.waitForFunction((l) => document.documentElement.lang === l, lang);
        for (const id of pages) await shoot(b.page, lang, id);
      } finally {
        await b.close();
      }
    }
  }
} finally {
  await server.stop();
}
