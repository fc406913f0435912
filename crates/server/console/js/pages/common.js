// Pieces shared by the pages: the tenant's paths, dates in the tenant's calendar (and the
// instant a day starts in its time zone), CSV reading.

import { enc } from "../api.js";

export function tenantPath(ctx, rest = "") {
  return `/v1/tenants/${enc(ctx.tenant)}${rest}`;
}

/** Today in a time zone, as `YYYY-MM-DD`. */
export function today(timeZone) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: timeZone || "UTC", year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  return parts;
}

export function firstOfMonth(timeZone) {
  return today(timeZone).slice(0, 8) + "01";
}

export function thisMonth(timeZone) {
  return today(timeZone).slice(0, 7);
}

export function previousMonth(isoMonth) {
  const [y, m] = isoMonth.split("-").map(Number);
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
}

/** The day after a `YYYY-MM-DD` date. */
export function nextDay(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** How far a time zone's wall clock is ahead of UTC at an instant, in milliseconds. */
function zoneOffset(instant, timeZone) {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: timeZone || "UTC",
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const parts = Object.fromEntries(format.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return wall - instant;
}

/**
 * The instant a `YYYY-MM-DD` day starts in a time zone, as RFC 3339 in UTC
 * (`2026-03-01` in Europe/Paris is `2026-02-28T23:00:00Z`). The offset is looked up twice, so a
 * day that starts near a daylight-saving change gets the offset in force at its start.
 */
export function dayStart(isoDate, timeZone) {
  const [y, m, d] = isoDate.split("-").map(Number);
  const wall = Date.UTC(y, m - 1, d);
  let instant = wall - zoneOffset(wall, timeZone);
  instant = wall - zoneOffset(instant, timeZone);
  return new Date(instant).toISOString().replace(/\.\d+Z$/, "Z");
}

/** Days between two `YYYY-MM-DD` dates, both included. */
export function daysBetween(from, to) {
  const out = [];
  const start = new Date(from + "T00:00:00Z");
  const end = new Date(to + "T00:00:00Z");
  for (let d = start; d <= end && out.length < 400; d = new Date(d.getTime() + 86_400_000)) {
    out.push(d.toISOString().slice(0, 10));
  }
  return out;
}

/** RFC 4180 CSV into rows of fields (quotes, doubled quotes, CRLF). */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let fieldText = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        fieldText += '"';
        i += 1;
      } else if (c === '"') {
        quoted = false;
      } else {
        fieldText += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      row.push(fieldText);
      fieldText = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(fieldText);
      rows.push(row);
      row = [];
      fieldText = "";
    } else {
      fieldText += c;
    }
  }
  if (fieldText !== "" || row.length) {
    row.push(fieldText);
    rows.push(row);
  }
  return rows;
}

/** CSV rows as objects keyed by the header row. */
export function csvObjects(text) {
  const [header, ...rows] = parseCsv(text);
  if (!header) return [];
  return rows.map((r) => Object.fromEntries(header.map((name, i) => [name, r[i] ?? ""])));
}
