// Enough of PromQL to check a dashboard's queries against the metrics the
// processes export: which series each expression selects, with which labels,
// and whether rate()-like functions get counters. Not a full parser: it walks
// tokens and knows the grammar's few bracketed forms (matchers, ranges,
// grouping lists).

import { type MetricSpec, seriesIndex } from './contract.js';

const AGGREGATIONS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile',
  'limitk', 'limit_ratio',
]);

const FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'day_of_month',
  'day_of_week', 'day_of_year', 'days_in_month', 'delta', 'deriv', 'exp', 'floor', 'histogram_avg', 'histogram_count',
  'histogram_fraction', 'histogram_quantile', 'histogram_stddev', 'histogram_stdvar', 'histogram_sum', 'holt_winters',
  'hour', 'idelta', 'increase', 'irate', 'label_join', 'label_replace', 'ln', 'log2', 'log10', 'minute', 'month',
  'predict_linear', 'rate', 'resets', 'round', 'scalar', 'sgn', 'sort', 'sort_desc', 'sqrt', 'time', 'timestamp',
  'vector', 'year', 'avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time',
  'quantile_over_time', 'stddev_over_time', 'stdvar_over_time', 'last_over_time', 'present_over_time',
]);

/** Functions whose argument must be a counter (a gauge would give nonsense). */
const COUNTER_FUNCTIONS = new Set(['rate', 'irate', 'increase', 'resets']);

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2']);

type TokenKind = 'space' | 'string' | 'var' | 'number' | 'ident' | 'punct';
interface Token {
  kind: TokenKind;
  text: string;
}

const TOKEN = /(\s+)|("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)|(\$\{[^}]*\}|\$\w+)|((?:\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+)(?:[smhdwy]|ms)?(?:\d+(?:[smhdwy]|ms))*)|([A-Za-z_:][\w:]*)|(==|!=|=~|!~|<=|>=|[-+*/%^<>=(){}[\],@])/y;
const KINDS: TokenKind[] = ['space', 'string', 'var', 'number', 'ident', 'punct'];

function lex(expr: string): Token[] | string {
  const out: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expr.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(expr);
    if (m === null) return `cannot read the query at offset ${at}: ${JSON.stringify(expr.slice(at, at + 20))}`;
    const group = m.findIndex((g, i) => i > 0 && g !== undefined);
    const kind = KINDS[group - 1] ?? 'punct';
    if (kind !== 'space') out.push({ kind, text: m[0] });
  }
  return out;
}

export interface QueryReport {
  /** The series names the query selects. */
  series: string[];
  problems: string[];
}

/** Check one PromQL expression against the exported metrics. */
export function checkQuery(expr: string, metrics: readonly MetricSpec[]): QueryReport {
  const index = seriesIndex(metrics);
  const tokens = lex(expr);
  if (typeof tokens === 'string') return { series: [], problems: [tokens] };
  const problems: string[] = [];
  const series: string[] = [];
  const groupingLabels: string[] = [];
  /** Open calls: function name and the paren depth its argument list opened at. */
  const calls: { name: string; depth: number }[] = [];
  let depth = 0;
  /** An aggregation whose grouping clause comes before its argument list: sum by (x) (...). */
  let pending: string | undefined;
  const closing = (from: number, open: string, close: string): number => {
    let d = 0;
    for (let j = from; j < tokens.length; j++) {
      if (tokens[j]?.text === open) d++;
      else if (tokens[j]?.text === close && --d === 0) return j;
    }
    problems.push(`unbalanced ${open}${close}`);
    return tokens.length;
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    const next = tokens[i + 1];
    if (t.text === '[') {
      i = closing(i, '[', ']');
    } else if (t.text === '(') {
      if (pending !== undefined) calls.push({ name: pending, depth });
      pending = undefined;
      depth++;
    } else if (t.text === ')') {
      depth--;
      if (calls.length > 0 && calls[calls.length - 1]?.depth === depth) calls.pop();
    } else if (t.text === '{') {
      problems.push('a selector without a metric name');
      i = closing(i, '{', '}');
    } else if (t.kind === 'ident' && AGGREGATIONS.has(t.text) && (next?.text === 'by' || next?.text === 'without')) {
      pending = t.text;
    } else if (t.kind === 'ident' && GROUPING.has(t.text) && next?.text === '(') {
      const end = closing(i + 1, '(', ')');
      for (const l of tokens.slice(i + 2, end)) if (l.kind === 'ident') groupingLabels.push(l.text);
      i = end;
    } else if (t.kind === 'ident' && next?.text === '(') {
      if (!AGGREGATIONS.has(t.text) && !FUNCTIONS.has(t.text)) problems.push(`unknown function ${t.text}()`);
      calls.push({ name: t.text, depth });
    } else if (t.kind === 'ident' && !KEYWORDS.has(t.text) && !GROUPING.has(t.text)) {
      series.push(t.text);
      const entry = index.get(t.text);
      if (entry === undefined) problems.push(`unknown metric ${t.text}`);
      const fn = calls[calls.length - 1]?.name;
      if (entry !== undefined && fn !== undefined && COUNTER_FUNCTIONS.has(fn) && !entry.counterLike) {
        problems.push(`${fn}() of ${t.text}, which is a ${entry.metric.type}`);
      }
      if (next?.text === '{') {
        const end = closing(i + 1, '{', '}');
        const body = tokens.slice(i + 2, end);
        for (let j = 0; j < body.length; j += 4) {
          const [label, op, value, comma] = body.slice(j, j + 4);
          if (label?.kind !== 'ident' || !['=', '!=', '=~', '!~'].includes(op?.text ?? '') || value?.kind !== 'string' || (comma !== undefined && comma.text !== ',')) {
            problems.push(`cannot read the matchers of ${t.text}`);
            break;
          }
          if (entry !== undefined && !entry.labels.has(label.text)) problems.push(`${t.text} has no label ${label.text}`);
        }
        i = end;
      }
    }
  }
  const known = new Set(series.flatMap((s) => [...(index.get(s)?.labels ?? [])]));
  for (const l of groupingLabels) if (!known.has(l)) problems.push(`grouping by ${l}, a label none of ${series.join(', ') || 'its metrics'} has`);
  if (series.length === 0) problems.push('selects no metric');
  return { series, problems };
}
