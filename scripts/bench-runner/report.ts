import type { Tool } from './tool.ts';

export interface ToolResult {
  tool: Tool;
  /** Medians over the runs. */
  applyMs: number;
  idleMs: number;
  /** Fastest and slowest run, to show how far this machine's noise moves a median. */
  applySpread: [number, number];
  idleSpread: [number, number];
  commitsPerUnit: number;
}

export interface SizeResult {
  units: number;
  results: ToolResult[];
}

export interface StatusResult {
  snippets: number;
  /** One `snippets run` that applied them all: a single sample. */
  applyMs: number;
  statusMs: number;
  planMs: number;
  idleMs: number;
}

export interface Machine {
  cpu: string;
  cores: number;
  ramGiB: number;
  node: string;
  postgres: string;
  fsync: string;
  synchronousCommit: string;
  date: string;
  /** 1-minute load averages when the benchmark started and ended. */
  load: [number, number];
  /** The fixed CPU workload of calibration.ts, in ms, when the benchmark started and ended. */
  cpuCalibration: [number, number];
}

export interface Report {
  machine: Machine;
  runs: number;
  warmups: number;
  sizes: SizeResult[];
  status?: StatusResult;
  floor: Tool;
  runner: Tool;
  /** Peers that commit each unit on its own, which the runner must beat. */
  perUnitPeers: Tool[];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const range = ([min, max]: [number, number]) => `${(min / 1000).toFixed(2)}–${(max / 1000).toFixed(2)} s`;
const ratio = (value: number, base: number) => `${(value / base).toFixed(2)}×`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;

function sizeTable({ units, results }: SizeResult, floor: Tool): string[] {
  const base = results.find((r) => r.tool === floor)!;
  return [
    `### ${units.toLocaleString('en')} units in one invocation`,
    '',
    row(['tool', 'commits per unit', 'wall', 'runs ranged', 'ms per unit', '× floor', '(wall − nothing pending) / N, ms', 'nothing pending', 'runs ranged', '× floor']),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
    ...results.map((r) =>
      row([
        r.tool.name,
        r.commitsPerUnit.toFixed(2),
        seconds(r.applyMs),
        range(r.applySpread),
        (r.applyMs / units).toFixed(2),
        ratio(r.applyMs, base.applyMs),
        ((r.applyMs - r.idleMs) / units).toFixed(2),
        seconds(r.idleMs),
        range(r.idleSpread),
        ratio(r.idleMs, base.idleMs),
      ]),
    ),
    '',
  ];
}

function targets(report: Report): string[] {
  const lines: [string, string, boolean][] = [];
  const thousand = report.sizes.find((s) => s.units === 1000);
  if (thousand) {
    const of = (tool: Tool) => thousand.results.find((r) => r.tool === tool);
    const runner = of(report.runner)!;
    const floor = of(report.floor)!;
    lines.push(['1,000 snippets in one run ≤ 1.5× the floor', `${seconds(runner.applyMs)} = ${ratio(runner.applyMs, floor.applyMs)} of ${seconds(floor.applyMs)}`, runner.applyMs <= 1.5 * floor.applyMs]);
    for (const peer of report.perUnitPeers) {
      const result = of(peer);
      if (result) lines.push([`1,000 snippets faster than ${peer.name}`, `${seconds(runner.applyMs)} vs ${seconds(result.applyMs)}`, runner.applyMs < result.applyMs]);
    }
    lines.push(['start-up with nothing pending ≤ 0.4 s (1,000 snippets)', seconds(runner.idleMs), runner.idleMs <= 400]);
  }
  if (report.status) {
    const { snippets, statusMs, idleMs } = report.status;
    lines.push([`\`snippets status\` on ${snippets.toLocaleString('en')} snippets < 1 s`, seconds(statusMs), statusMs < 1000]);
    lines.push([`start-up with nothing pending ≤ 0.4 s (${snippets.toLocaleString('en')} snippets)`, seconds(idleMs), idleMs <= 400]);
  }
  return [
    '### Targets',
    '',
    row(['target', 'measured', 'met']),
    row(['---', '---', '---']),
    ...lines.map(([target, measured, met]) => row([target, measured, met ? 'yes' : '**no**'])),
    '',
  ];
}

/** The benchmark's results as Markdown: what ran where, the tables, and how they were measured. */
export function renderReport(report: Report): string {
  const { machine, status } = report;
  const tools = report.sizes[0]?.results.map((r) => r.tool) ?? [];
  return [
    '# Benchmarks',
    '',
    '## Applying units of work: the snippets runner against migration tools',
    '',
    `Written by \`npm run bench -- runner\` on ${machine.date}. Each figure is the median of ${plural(report.runs, 'run')}, after ${plural(report.warmups, 'warm-up run')}, each on a database of its own; "runs ranged" gives the fastest and slowest of them. The tools take turns run by run, so a burst of load on the machine falls on all of them alike.`,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB.toFixed(1)} GiB RAM; Node ${machine.node}; PostgreSQL ${machine.postgres} on the same host`,
    `(fsync ${machine.fsync}, synchronous_commit ${machine.synchronousCommit}). 1-minute load average ${machine.load[0].toFixed(2)} at the start, ${machine.load[1].toFixed(2)} at the end.`,
    `CPU check (a fixed workload of JSON and sha256, \`scripts/bench-runner/calibration.ts\`): ${machine.cpuCalibration[0].toFixed(0)} ms at the start, ${machine.cpuCalibration[1].toFixed(0)} ms at the end;`,
    'the speed of this kind of machine drifts, so read the absolute figures against it.',
    '',
    'A unit inserts one row into a side-effect table `effects`; every tool records it in its own ledger. Each tool runs as its own',
    'process, the way its users run it, and the wall time includes its start-up. "Nothing pending" is a second invocation after',
    'everything is applied. "Commits per unit" counts the transactions the database committed during the run',
    "(`pg_stat_database.xact_commit`), read-only ones included, divided by the units. Ratios are to the floor measured in the same run.",
    '',
    row(['tool', 'invoked as']),
    row(['---', '---']),
    ...tools.map((t) => row([t.name, t.invocation])),
    '',
    'The floor is the least an exactly-once runner can do: one connection, and per unit one transaction that writes the effect row and',
    "a ledger row. The peers' migrations are plain JavaScript or SQL, their cheapest form; snippets are TypeScript modules, loaded",
    'as the runner loads them (compiled into one cached bundle). The snippet repo has a `snippets.config.ts` and the `snippets.lock` that',
    '`snippets manifest` wrote; its runner is the published package as `npm run build:packages` builds it (JavaScript).',
    '',
    ...report.sizes.flatMap((size) => sizeTable(size, report.floor)),
    ...(status
      ? [
          `### Reading a repo of ${status.snippets.toLocaleString('en')} snippets, all applied`,
          '',
          row(['command', 'wall']),
          row(['---', '---:']),
          row(['`snippets status`', seconds(status.statusMs)]),
          row(['`snippets plan`', seconds(status.planMs)]),
          row(['`snippets run`, nothing pending', seconds(status.idleMs)]),
          row([`\`snippets run\` applying all ${status.snippets.toLocaleString('en')} (one sample)`, seconds(status.applyMs)]),
          '',
        ]
      : []),
    ...targets(report),
  ].join('\n');
}
