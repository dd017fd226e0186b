// The dashboard's static files: its style sheet, the script that draws the
// charts, and uPlot (the chart library, from node_modules as npm installed
// it). Kept as strings here so that the compiled tree (and the image, which
// has dist/ and node_modules/ only) serves them without a build step.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const CSS = `
:root { --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --bg: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #fff; }
header { display: flex; gap: 1.5em; align-items: baseline; padding: .7em 1.5em; background: #24292f; color: #fff; flex-wrap: wrap; }
header a { color: #fff; text-decoration: none; }
header .brand { font-weight: 700; font-size: 1.15em; }
header nav a { margin-right: 1em; opacity: .85; }
header nav a:hover { opacity: 1; text-decoration: underline; }
header .source { opacity: .7; }
header .refresh { margin-left: auto; opacity: .7; font-size: .9em; }
header .refresh a { text-decoration: underline; }
main { padding: 1em 1.5em 2em; max-width: 1400px; }
h1 { font-size: 1.4em; margin: .3em 0 .6em; word-break: break-word; }
h2 { font-size: 1.15em; margin: 1.6em 0 .5em; border-bottom: 1px solid var(--line); padding-bottom: .2em; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; margin: .3em 0 1em; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--bg); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td code, .sig { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .92em; }
.badge { display: inline-block; padding: .05em .5em; border-radius: 1em; font-size: .85em; font-weight: 600; color: #fff; background: #6e7781; white-space: nowrap; }
.badge.BUG, .badge.DEADLOCK { background: #cf222e; }
.badge.WARN { background: #bf8700; }
.badge.DATA { background: #8250df; }
.badge.INVARIANT, .badge.LIVELOCK { background: #0550ae; }
.badge.running { background: #1a7f37; }
.badge.minimizing { background: #9a6700; }
.badge.stopped, .badge.done, .badge.unknown, .badge.idle { background: #6e7781; }
.badge.fuzzing { background: #1a7f37; }
.badge.reproduces { background: #cf222e; }
.badge.not-reproduced { background: #1a7f37; }
.badge.cannot-run { background: #6e7781; }
.stats { display: flex; gap: .8em; flex-wrap: wrap; margin: .5em 0 1em; }
.stat { border: 1px solid var(--line); border-radius: 6px; padding: .5em .9em; min-width: 8.5em; background: var(--bg); }
.stat .v { font-size: 1.35em; font-weight: 600; font-variant-numeric: tabular-nums; }
.stat .k { color: var(--muted); font-size: .85em; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 1em; }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: .5em; min-height: 260px; }
figure.chart figcaption { font-weight: 600; margin-bottom: .3em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3em 1.2em; margin: .5em 0 1em; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: .8em; overflow: auto; max-height: 34em; font-size: .88em; }
.downloads a, .downloads span { margin-right: .9em; }
.downloads .na { color: var(--muted); text-decoration: line-through; }
.muted { color: var(--muted); }
.legend dt { font-weight: 600; }
footer { color: var(--muted); padding: 1em 1.5em; border-top: 1px solid var(--line); font-size: .85em; }
`;

const CHARTS_JS = `// Draws each <figure data-chart> with uPlot: x is seconds since the start;
// a second series gets its own scale on the right.
(function () {
  var colors = ['#0969da', '#cf222e', '#1a7f37', '#8250df'];
  function draw(fig) {
    var spec = JSON.parse(fig.querySelector('script[type="application/json"]').textContent);
    var series = [{ label: 'seconds' }];
    var axes = [{ label: 'seconds since the start' }];
    spec.series.forEach(function (name, i) {
      series.push({ label: name, stroke: colors[i % colors.length], width: 2, scale: i === 0 ? 'y' : 'y2' });
      axes.push(i === 0 ? { scale: 'y', size: 60 } : { scale: 'y2', side: 1, size: 60, grid: { show: false } });
    });
    var opts = {
      width: Math.max(300, fig.clientWidth - 16), height: 200,
      scales: { x: { time: false } }, series: series, axes: axes, legend: { live: true },
    };
    new uPlot(opts, spec.columns, fig);
  }
  document.querySelectorAll('figure[data-chart]').forEach(draw);
})();
`;

const require = createRequire(import.meta.url);

/** uPlot's file, read once. */
function uplot(file: string): () => string {
  let text: string | null = null;
  return () => (text ??= readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8'));
}

/** The static files by path: content type and content. */
export const ASSETS: Record<string, { type: string; body: () => string }> = {
  '/static/dashboard.css': { type: 'text/css; charset=utf-8', body: () => CSS },
  '/static/charts.js': { type: 'text/javascript; charset=utf-8', body: () => CHARTS_JS },
  '/static/uPlot.iife.min.js': { type: 'text/javascript; charset=utf-8', body: uplot('uPlot.iife.min.js') },
  '/static/uPlot.min.css': { type: 'text/css; charset=utf-8', body: uplot('uPlot.min.css') },
};
