// Translation and formatting. Keys are written literally where they are used, as t() calls in
// scripts with a quoted key and data-i18n attributes (also -placeholder, -title) in the HTML, so a
// test can find every key in use and check each catalogue has it.

export const LANGUAGES = [
  { code: "en", name: "English" },
  { code: "ja", name: "日本語" },
  { code: "zh-CN", name: "简体中文" },
  { code: "fr", name: "Français" },
  { code: "de", name: "Deutsch" },
];

let current = "en";
let messages = {};
let fallback = {};

/** The supported language closest to a BCP 47 tag, or null. */
export function match(tag) {
  if (!tag) return null;
  const lower = tag.toLowerCase();
  if (lower.startsWith("zh")) return "zh-CN";
  const base = lower.split("-")[0];
  const found = LANGUAGES.find((l) => l.code === base);
  return found ? found.code : null;
}

/** The browser's preferred language among the supported ones. */
export function browserLanguage() {
  const tags = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const tag of tags) {
    const found = match(tag);
    if (found) return found;
  }
  return "en";
}

async function catalogue(code) {
  const response = await fetch(`/console/i18n/${code}.json`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`catalogue ${code}: HTTP ${response.status}`);
  return response.json();
}

/** Loads a language's catalogue and makes it current. */
export async function load(code) {
  if (!fallback.app_name) fallback = await catalogue("en");
  messages = code === "en" ? fallback : await catalogue(code);
  current = code;
  document.documentElement.lang = code;
}

export function lang() {
  return current;
}

/** The message of `key`, with `{name}` placeholders replaced from `vars`. */
export function t(key, vars) {
  let text = messages[key] ?? fallback[key] ?? key;
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (all, name) => (name in vars ? String(vars[name]) : all));
  }
  return text;
}

/** Fills the elements of `root` that name a key. */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting with Intl. Money arrives as decimal strings and is handed to Intl as strings, so
// no amount ever passes through a binary float.
// ---------------------------------------------------------------------------------------------

export function money(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "—";
  try {
    return new Intl.NumberFormat(current, { style: "currency", currency }).format(String(amount));
  } catch {
    return `${amount} ${currency || ""}`.trim();
  }
}

/** A rate per minute keeps all its digits (up to four decimals). */
export function rate(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "—";
  try {
    return new Intl.NumberFormat(current, {
      style: "currency",
      currency,
      minimumFractionDigits: 2,
      maximumFractionDigits: 6,
    }).format(String(amount));
  } catch {
    return `${amount} ${currency || ""}`.trim();
  }
}

export function number(value, options) {
  if (value === null || value === undefined || value === "") return "—";
  return new Intl.NumberFormat(current, options).format(value);
}

export function percent(value) {
  return new Intl.NumberFormat(current, { style: "percent", maximumFractionDigits: 1 }).format(value);
}

export function dateTime(iso, timeZone) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(current, {
    dateStyle: "medium",
    timeStyle: "medium",
    timeZone: timeZone || undefined,
  }).format(date);
}

/** A calendar date (`2026-03-02`) shown in the language, without a time zone shift. */
export function day(isoDate, style = "medium") {
  if (!isoDate) return "—";
  const [y, m, d] = isoDate.slice(0, 10).split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return new Intl.DateTimeFormat(current, { dateStyle: style, timeZone: "UTC" }).format(date);
}

export function month(isoMonth) {
  const [y, m] = isoMonth.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, 1));
  return new Intl.DateTimeFormat(current, { year: "numeric", month: "long", timeZone: "UTC" }).format(date);
}

export function duration(seconds) {
  const s = Number(seconds) || 0;
  const m = Math.floor(s / 60);
  const rest = s % 60;
  return t("common.duration_ms", { m: number(m), s: String(rest).padStart(2, "0") });
}

// ---------------------------------------------------------------------------------------------
// Exact decimal sums for the few totals the console computes itself (chart labels, forfeits
// ahead): decimal strings are scaled to integers and added as BigInt.
// ---------------------------------------------------------------------------------------------

function scaled(text, places) {
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = text.replace(/^[-+]/, "").split(".");
  const digits = BigInt((whole || "0") + fraction.padEnd(places, "0").slice(0, places));
  return negative ? -digits : digits;
}

/** The exact sum of decimal strings, as a decimal string. */
export function decimalSum(values) {
  const list = values.filter((v) => v !== null && v !== undefined && v !== "").map(String);
  const places = Math.max(0, ...list.map((v) => (v.split(".")[1] || "").length));
  let total = 0n;
  for (const value of list) total += scaled(value, places);
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(places + 1, "0");
  const whole = digits.slice(0, digits.length - places);
  const fraction = places ? "." + digits.slice(digits.length - places) : "";
  return (negative ? "-" : "") + whole + fraction;
}

/** Compares two decimal strings: negative, zero or positive like a sort comparator. */
export function decimalCompare(a, b) {
  const text = String(b);
  const negated = text.startsWith("-") ? text.slice(1) : "-" + text;
  const difference = decimalSum([String(a), negated]);
  if (!/[1-9]/.test(difference)) return 0;
  return difference.startsWith("-") ? -1 : 1;
}
