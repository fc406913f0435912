// The e2e harness: a real `minutely serve` on a fresh database and a free port, and Debian's
// Chromium driven by playwright-core.

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const BIN = path.resolve(
  ROOT,
  process.env.MINUTELY_BIN || path.join(process.env.CARGO_TARGET_DIR || "target", "release", "minutely"),
);
// The tools binary (sample data), built beside the product binary.
export const TOOLS = path.join(path.dirname(BIN), "minutely-tools");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `minutely serve` (with `--demo` when asked) and resolves once it prints its URL. */
export async function startServer({ demo = false } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "minutely-e2e-"));
  const db = path.join(dir, "m.db");
  const port = await freePort();
  const args = ["--db", db, "serve", "--listen", `127.0.0.1:${port}`];
  if (demo) args.push("--demo");
  const child = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const banner = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${stdout}\n${stderr.slice(-2000)}`)), 60_000);
    child.stdout.on("data", (d) => {
      stdout += d;
      const ready = demo ? /tenant-admin key[^\n]*mk_[0-9a-f_]+/.test(stdout) : /is serving http/.test(stdout);
      if (ready) {
        clearTimeout(timer);
        resolve(stdout);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${stdout}\n${stderr.slice(-2000)}`));
    });
  });
  const url = /serving (http:\/\/[^\s]+)/.exec(banner)[1];
  const adminKey = demo ? /tenant-admin key[^\n]*?(mk_[0-9a-f_]+)/.exec(banner)[1] : null;
  return {
    url,
    db,
    dir,
    adminKey,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((resolve) => {
        if (child.exitCode !== null) resolve();
        else child.once("exit", resolve);
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An operator key made with the command line; waits until the server has read it. */
export async function operatorKey(server) {
  const out = execFileSync(BIN, ["--db", server.db, "keys", "create", "--kind", "operator", "--label", "e2e"], { encoding: "utf8" });
  const key = /mk_[0-9a-f_]+/.exec(out)[0];
  for (let i = 0; i < 50; i += 1) {
    const r = await fetch(`${server.url}/v1/tenants`, { headers: { Authorization: `Bearer ${key}` } });
    if (r.ok) return key;
    await sleep(200);
  }
  throw new Error("the server never accepted the operator key");
}

export async function api(server, key, method, route, body, contentType = "application/json") {
  const headers = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers["Content-Type"] = contentType;
  const response = await fetch(`${server.url}${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : contentType === "application/json" ? JSON.stringify(body) : body,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`);
  return text && contentType && response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
}

/**
 * A quiet server set up through the API: the sample EUR card, the example tenant, a
 * tenant-admin key, and a few calls of today ingested by a bridge key.
 */
export async function setUpTenant(server) {
  const op = await operatorKey(server);
  const rates = execFileSync(TOOLS, ["gen", "rates", "--currency", "EUR"], { encoding: "utf8", maxBuffer: 1 << 26 });
  await api(server, op, "POST", "/v1/rate-cards/EUR", rates, "text/csv");
  const toml = readFileSync(path.join(ROOT, "examples", "tenant.toml"), "utf8");
  await api(server, op, "PUT", "/v1/tenants/contoso/file", toml, "application/toml");
  const admin = (await api(server, op, "POST", "/v1/keys", { kind: "tenant_admin", tenant: "contoso", label: "e2e admin" })).key;
  const bridge = (await api(server, op, "POST", "/v1/keys", { kind: "bridge", tenant: "contoso", label: "e2e bridge" })).key;
  const now = Date.now();
  const at = (minutesAgo) => new Date(now - minutesAgo * 60_000).toISOString().replace(/\.\d+Z$/, "Z");
  const call = (i, direction, extra, startAgo, minutes) => ({
    call_id: `e2e-${i}`,
    conference_id: `conf-${i}`,
    organizer: i % 2 ? "bruno.martin@contoso.example" : "chloe.bernard@contoso.example",
    direction,
    service_number: "",
    caller_number: "",
    destination_number: "",
    start: at(startAgo),
    end: at(startAgo - minutes),
    ...extra,
  });
  const calls = [
    call(1, "dial_out", { destination_number: "+33 1 23 45 67 89" }, 90, 7),
    call(2, "dial_out", { destination_number: "+81 3 1234 5678" }, 80, 12),
    call(3, "dial_in", { service_number: "+33 805 98 00 00", caller_number: "+33 6 11 22 33 44" }, 70, 5),
    call(4, "dial_in", { service_number: "+1 212 555 0199", caller_number: "+1 415 555 0100" }, 60, 9),
    call(5, "dial_out", { destination_number: "+44 20 7946 0958" }, 50, 3),
  ];
  await api(server, bridge, "POST", "/v1/tenants/contoso/calls", { calls });
  return { op, admin, bridge };
}

/** Chromium with a fresh profile directory, in the given locale. */
export async function browser(locale = "en-US") {
  const profile = mkdtempSync(path.join(tmpdir(), "minutely-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, `--lang=${locale}`],
    locale,
    acceptDownloads: true,
    viewport: { width: 1360, height: 900 },
  });
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function signIn(page, server, key) {
  await page.goto(`${server.url}/`);
  await page.locator("#signin-key").fill(key);
  await page.locator("#signin-form button[type=submit]").click();
  await page.locator("#nav a").first().waitFor();
}

export async function openPage(page, id) {
  const link = page.locator(`#nav a[data-page="${id}"]`);
  await link.click();
  const label = (await link.textContent()).trim();
  await page.locator("#page > h1", { hasText: label }).waitFor();
  await page.waitForFunction(() => !document.querySelector("#page .loading"), null, { timeout: 15_000 });
}
