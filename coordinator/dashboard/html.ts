// HTML building blocks of the dashboard: escaping, the page shell, tables,
// and the way numbers, times and states are written. Every page is rendered
// here on the server; the only script is the one that draws the charts.

import { SIM_VERSION } from '../../worker/sim/version.js';

/** Text into HTML (element content and quoted attributes). */
export function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** HTML that is already safe, marked so it is not escaped again. */
export interface Html {
  html: string;
}

export const raw = (html: string): Html => ({ html });

export type Cell = string | number | Html;

function cell(c: Cell): string {
  return typeof c === 'object' ? c.html : esc(c);
}

/** A table; `numeric` columns are right-aligned. */
export function table(head: string[], rows: Cell[][], opts: { id?: string; numeric?: number[] } = {}): string {
  const num = new Set(opts.numeric ?? []);
  const th = head.map((h, i) => `<th${num.has(i) ? ' class="num"' : ''}>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${num.has(i) ? ' class="num"' : ''}>${cell(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table${opts.id ? ` id="${esc(opts.id)}"` : ''}><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A definition list of facts: [label, value]. */
export function facts(rows: [string, Cell][]): string {
  return `<dl class="facts">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${cell(v)}</dd>`).join('')}</dl>`;
}

export function link(href: string, text: string): Html {
  return raw(`<a href="${esc(href)}">${esc(text)}</a>`);
}

/** A small coloured label, with its meaning as a tooltip. */
export function badge(text: string, cls: string, title = ''): Html {
  return raw(`<span class="badge ${esc(cls)}"${title ? ` title="${esc(title)}"` : ''}>${esc(text)}</span>`);
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Seconds as "42 s", "12 min 5 s", "3 h 20 min". */
export function duration(sec: number): string {
  const s = Math.round(sec);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export interface PageOptions {
  title: string;
  source: string;
  /** Refresh every this many seconds (a live campaign), unless the URL says refresh=0. */
  refreshSec?: number;
  charts?: boolean;
  /** The current path with its query, for the pause/resume link. */
  path: string;
  paused: boolean;
}

function refreshNote(o: PageOptions): string {
  if (o.refreshSec === undefined) return '';
  const base = o.path.replace(/[?&]refresh=0\b/, '');
  return o.paused
    ? `<span class="refresh">updates paused · ${link(base, 'resume').html}</span>`
    : `<span class="refresh">updates every ${o.refreshSec} s · ${link(`${base}${base.includes('?') ? '&' : '?'}refresh=0`, 'pause').html}</span>`;
}

/** The page shell: head, the navigation bar, the body, a footer. */
export function page(o: PageOptions, body: string): string {
  const refresh = o.refreshSec !== undefined && !o.paused ? `<meta http-equiv="refresh" content="${o.refreshSec}">` : '';
  const charts = o.charts
    ? '<link rel="stylesheet" href="/static/uPlot.min.css"><script src="/static/uPlot.iife.min.js" defer></script><script src="/static/charts.js" defer></script>'
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(o.title)} · foliofuzz</title><link rel="icon" href="data:,">${refresh}
<link rel="stylesheet" href="/static/dashboard.css">${charts}</head>
<body><header><a class="brand" href="/">foliofuzz</a><nav><a href="/">Campaigns</a><a href="/workers">Workers</a></nav>
<span class="source">${esc(o.source)}</span>${refreshNote(o)}</header>
<main>
${body}
</main>
<footer>foliofuzz dashboard · ${esc(SIM_VERSION)}</footer></body></html>
`;
}

/** Data for a chart drawn by /static/charts.js: a title, the series names, columns (x first). */
export function chart(id: string, title: string, series: string[], columns: number[][]): string {
  const data = JSON.stringify({ title, series, columns }).replace(/</g, '\\u003c');
  return `<figure class="chart" id="${esc(id)}" data-chart><figcaption>${esc(title)}</figcaption><script type="application/json">${data}</script></figure>`;
}
