// Charts drawn as inline SVG. Bar heights are geometry only: the figures printed beside them
// come from the API's decimal strings, formatted with Intl.

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

/**
 * A stacked bar chart. `bars` = [{label, parts: [{series, value, title}], total}], `series` =
 * [{id, label}] (each series gets the CSS class `series-<id>`), `format(value)` labels the axis.
 */
export function stackedBars({ bars, series, format, title }) {
  const width = 720;
  const height = 260;
  const left = 64;
  const bottom = 40;
  const top = 16;
  const plotHeight = height - bottom - top;
  const max = niceMax(Math.max(0, ...bars.map((b) => b.parts.reduce((sum, p) => sum + p.value, 0))));
  const slot = (width - left - 8) / Math.max(1, bars.length);
  const barWidth = Math.max(2, Math.min(32, slot * 0.7));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title });
  svg.append(s("title", {}, title));
  for (let i = 0; i <= 4; i += 1) {
    const value = (max * i) / 4;
    const y = top + plotHeight - (plotHeight * i) / 4;
    svg.append(s("line", { x1: left, x2: width - 4, y1: y, y2: y, class: "grid" }));
    svg.append(s("text", { x: left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, format(value)));
  }
  const labelEvery = Math.ceil(bars.length / 12);
  bars.forEach((bar, index) => {
    const x = left + slot * index + (slot - barWidth) / 2;
    let y = top + plotHeight;
    const group = s("g", { class: "bar" });
    for (const part of bar.parts) {
      if (part.value <= 0) continue;
      const h = (plotHeight * part.value) / max;
      y -= h;
      group.append(
        s("rect", { x, y, width: barWidth, height: h, class: `series-${part.series}` }, s("title", {}, part.title)),
      );
    }
    svg.append(group);
    if (index % labelEvery === 0) {
      svg.append(s("text", { x: x + barWidth / 2, y: height - bottom + 16, class: "axis", "text-anchor": "middle" }, bar.label));
    }
  });
  return wrap(svg, series);
}

/** Horizontal stacked bars, one row per label (countries). */
export function horizontalBars({ rows, series, format, title }) {
  const width = 720;
  const rowHeight = 24;
  const left = 150;
  const right = 110;
  const height = Math.max(1, rows.length) * rowHeight + 8;
  const max = niceMax(Math.max(0, ...rows.map((r) => r.parts.reduce((sum, p) => sum + p.value, 0))));
  const plot = width - left - right;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart hbars", role: "img", "aria-label": title });
  svg.append(s("title", {}, title));
  rows.forEach((row, index) => {
    const y = 4 + index * rowHeight;
    svg.append(s("text", { x: left - 8, y: y + 15, class: "axis", "text-anchor": "end" }, row.label));
    let x = left;
    for (const part of row.parts) {
      if (part.value <= 0) continue;
      const w = (plot * part.value) / max;
      svg.append(s("rect", { x, y: y + 3, width: w, height: rowHeight - 8, class: `series-${part.series}` }, s("title", {}, part.title)));
      x += w;
    }
    svg.append(s("text", { x: x + 6, y: y + 15, class: "axis" }, row.total));
  });
  return wrap(svg, series);
}

function wrap(svg, series) {
  const figure = document.createElement("figure");
  figure.className = "chart-figure";
  figure.append(svg);
  const legend = document.createElement("figcaption");
  legend.className = "legend";
  for (const item of series) {
    const entry = document.createElement("span");
    const swatch = s("svg", { width: 12, height: 12, "aria-hidden": "true" }, s("rect", { width: 12, height: 12, class: `series-${item.id}` }));
    entry.append(swatch, " ", item.label);
    legend.append(entry);
  }
  figure.append(legend);
  return figure;
}

/** A half-circle gauge: `used` and `held` out of `size`, with a caption. */
export function gauge({ used, held, size, label }) {
  const width = 240;
  const height = 140;
  const cx = 120;
  const cy = 120;
  const r = 96;
  const arc = (from, to) => {
    const a0 = Math.PI * (1 - from);
    const a1 = Math.PI * (1 - to);
    const x0 = cx + r * Math.cos(a0);
    const y0 = cy - r * Math.sin(a0);
    const x1 = cx + r * Math.cos(a1);
    const y1 = cy - r * Math.sin(a1);
    return `M ${x0} ${y0} A ${r} ${r} 0 0 1 ${x1} ${y1}`;
  };
  const total = Math.max(1, size);
  const usedShare = Math.min(1, used / total);
  const heldShare = Math.min(1 - usedShare, held / total);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "gauge", role: "img", "aria-label": label });
  svg.append(s("title", {}, label));
  svg.append(s("path", { d: arc(0, 1), class: "gauge-track" }));
  if (usedShare > 0) svg.append(s("path", { d: arc(0, usedShare), class: "gauge-used" }));
  if (heldShare > 0) svg.append(s("path", { d: arc(usedShare, usedShare + heldShare), class: "gauge-held" }));
  svg.append(s("text", { x: cx, y: cy - 10, class: "gauge-text", "text-anchor": "middle" }, label));
  return svg;
}
