/**
 * The differential suite (issue 11): `kservice compile` (in-process) and Knative's own code (the
 * oracle, oracle/) on the same input, object by object, field by field:
 *   - every golden case (test/cli/golden, every step, with its config and history),
 *   - every example (examples/charts.ts, as the Knative YAML in fixtures/examples; a test below
 *     checks each fixture compiles to what its chart synthesizes),
 *   - every bad-input case (test/cli/bad-input.test.ts): accept/reject must agree.
 * Routing is compared by meaning: Knative's side ends at the KIngress (net-istio, which turns it
 * into VirtualServices, is not on the Go module proxy), so kservice's VirtualServices and the
 * KIngress are both translated into what a client gets (support/routing.ts) and those are diffed.
 * Any difference must match an entry of oracle/allowed-differences.yaml, and every entry must
 * still match something, so the list cannot rot. Runs in the cluster config (needs Go).
 *
 * Knative has no data-plane modes (issue 13): only `full` revisions are compared object by object.
 * A revision compiled in another mode (its Deployment carries DATA_PLANE_ANNOTATION) differs from
 * Knative's by design in every object it has (no queue-proxy, a selecting public Service, no
 * Endpoints...), so its per-revision objects are left out on both sides and recorded; a test
 * below asserts which revisions were left out and why. Routes are still compared whole: they
 * point at a revision's public Service in every mode.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATA_PLANE_ANNOTATION } from '../../lib/contract/autoscaling';
import { DEFAULT_SERVING_CONFIG, type ServingConfigProps } from '../../lib/contract/config';
import { Gateways, Labels } from '../../lib/contract/constants';
import { removeDir, run, tempDir } from '../cli/helpers';
import { synthExamples } from '../compiler/support/synth';
import { loadBadInputCases, type BadInputCase } from './support/bad-input-cases';
import {
  compareObjects, loadAllowlist, matches, type AllowedDifference, type Comparison, type Difference, type FieldMatcher,
} from './support/compare';
import { buildOracle, runOracle, type OracleResult } from './support/oracle';
import { compareRouting, type RoutingComparison } from './support/routing';

const GOLDEN = path.join(__dirname, '..', 'cli', 'golden');
const EXAMPLES = path.join(__dirname, 'fixtures', 'examples');
const REPORT = path.join(tmpdir(), 'kservice-oracle-report.json');

const allowlist = loadAllowlist();
const settings = Object.assign({}, ...allowlist.map((e) => e.setting ?? {})) as Record<string, Record<string, string>>;
const used = new Map<AllowedDifference, number>();
const work: string[] = [];
let oracle = '';

interface CaseReport {
  readonly name: string;
  readonly comparison?: Omit<Comparison, 'differences'> & Omit<RoutingComparison, 'differences'>;
  readonly allowed: number;
  readonly unallowed: Difference[];
}
const reports: CaseReport[] = [];
const decisions: { name: string; kservice: string; knative: string; allowed: boolean; note: string }[] = [];
/** Per compile: the revisions left out of the comparison, with their data-plane mode. */
const leftOut = new Map<string, Record<string, string>>();

beforeAll(() => {
  oracle = buildOracle();
}, 45 * 60_000);

afterAll(() => {
  work.forEach(removeDir);
  writeFileSync(REPORT, JSON.stringify({ reports, decisions, used: allowlist.map((e) => ({ title: e.title, uses: used.get(e) ?? 0 })) }, null, 2));
  const sum = (f: (c: NonNullable<CaseReport['comparison']>) => number) => reports.reduce((n, r) => n + (r.comparison ? f(r.comparison) : 0), 0);
  const tally = new Map<string, number>();
  for (const d of decisions) tally.set(`${d.kservice}/${d.knative}`, (tally.get(`${d.kservice}/${d.knative}`) ?? 0) + 1);
  console.log([
    `differential suite: ${reports.length} compiles compared, ${sum((c) => c.objectsCompared)} object pairs,`,
    `${sum((c) => c.objectsOnlyKnative)} objects only Knative creates, ${sum((c) => c.objectsOnlyKservice)} only kservice;`,
    `${sum((c) => c.routesCompared)} routes compared (VirtualServices with the KIngress),`,
    `${sum((c) => c.routesOnlyKnative)} only Knative, ${sum((c) => c.routesOnlyKservice)} only kservice;`,
    `${sum((c) => c.fields.compared)} fields compared, ${sum((c) => c.fields.equal)} equal;`,
    `${reports.reduce((n, r) => n + r.allowed, 0)} differences allowed, ${reports.reduce((n, r) => n + r.unallowed.length, 0)} not;`,
    `decisions (kservice/Knative): ${[...tally].map(([k, n]) => `${k} ${n}`).join(', ')}; report: ${REPORT}`,
  ].join(' '));
});

/** Input files of a folder, recursively, in the order the CLI reads them. */
function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f) && statSync(path.join(dir, f)).isFile())
    .sort()
    .map((f) => path.join(dir, f));
}

/** The documents a user passed through (not Knative's): both programs leave them alone. */
function passthroughKeys(files: string[]): Set<string> {
  const keys = new Set<string>();
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const o = doc.toJSON() as { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } } | null;
      if (o && o.apiVersion !== 'serving.knative.dev/v1') keys.add(`${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`);
    }
  }
  return keys;
}

// What kservice adds that Knative installs once per cluster (the serving system, its RBAC) or
// that Knative's controllers do not create per Service.
const SYSTEM_NAMESPACES = new Set(['knative-serving', 'istio-system']);
const PER_SERVICE_KINDS = new Set(['Deployment', 'Service', 'Endpoints', 'HorizontalPodAutoscaler', 'VirtualService']);

function perServiceObjects(stream: string, passthrough: Set<string>): Record<string, unknown>[] {
  return parseAllDocuments(stream)
    .map((d) => d.toJSON() as Record<string, unknown>)
    .filter((o) => {
      const meta = o.metadata as { name?: string; namespace?: string };
      const key = `${String(o.kind)}/${meta.namespace ?? ''}/${meta.name ?? ''}`;
      return PER_SERVICE_KINDS.has(String(o.kind)) && !SYSTEM_NAMESPACES.has(meta.namespace ?? '') && !passthrough.has(key);
    });
}

const usedMatchers = new Set<FieldMatcher>();

function allowedBy(d: Difference): AllowedDifference | undefined {
  for (const entry of allowlist) {
    const matcher = entry.match?.find((m) => matches(m, d));
    if (matcher) {
      usedMatchers.add(matcher);
      return entry;
    }
  }
  return undefined;
}

function use(entry: AllowedDifference): void {
  used.set(entry, (used.get(entry) ?? 0) + 1);
}

function describeDifference(d: Difference): string {
  const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v)?.slice(0, 300));
  return `${d.kind} ${d.name} ${d.path} [${d.change}]: kservice ${show(d.kservice)} / knative ${show(d.knative)}`;
}

/**
 * When Knative refuses input kservice compiled, that is a finding unless an allowlist entry names
 * the case; returns that entry (its decision recorded) or undefined when Knative took the input.
 */
function refusal(name: string, result: OracleResult): AllowedDifference | undefined {
  if (result.rejected.length === 0 && result.notReady.length === 0) return undefined;
  const entry = allowlist.find((e) => e.decisions?.includes(name));
  const refusals = [...result.rejected, ...result.notReady].map((r) => `${r.kind} ${r.name}: ${r.message}`);
  expect(entry, `${name}: Knative refuses input kservice compiled: ${refusals.join('; ')}`).toBeDefined();
  use(entry!);
  decisions.push({ name, kservice: 'accept', knative: result.rejected.length > 0 ? 'reject' : 'not-ready', allowed: true, note: refusals.join('; ') });
  return entry;
}

/** Compares one compile: kservice's stream against the oracle's objects; records and returns what is not allowed. */
function check(name: string, stream: string, files: string[], result: OracleResult): Difference[] {
  expect(result.rejected, `${name}: Knative rejects input kservice compiled`).toEqual([]);
  expect(result.notReady, `${name}: a Knative reconciler stops on input kservice compiled`).toEqual([]);
  const all = perServiceObjects(stream, passthroughKeys(files));
  const modes = nonFullRevisions(all);
  leftOut.set(name, modes);
  for (const revision of Object.keys(modes)) {
    // Left out for its mode, not because one side lacks it: Knative built the revision too.
    expect(result.objects.some((o) => o.kind === 'Deployment' && ofRevision(o, revision)), `${name}: Knative's Deployment of ${revision}`).toBe(true);
  }
  const ourObjects = all.filter((o) => !Object.keys(modes).some((r) => ofRevision(o, r)));
  result = { ...result, objects: result.objects.filter((o) => !Object.keys(modes).some((r) => ofRevision(o, r))) };
  const isVirtualService = (o: Record<string, unknown>) => o.kind === 'VirtualService';
  const comparison = compareObjects(name, ourObjects.filter((o) => !isVirtualService(o)), result.objects);
  // Knative's side of routing is the KIngress (the oracle has no net-istio): compared by meaning.
  const routing = compareRouting(name, ourObjects.filter(isVirtualService), result.objects.filter((o) => o.kind === 'Ingress'), comparison.fields);
  const unallowed: Difference[] = [];
  for (const d of [...comparison.differences, ...routing.differences]) {
    const entry = allowedBy(d);
    if (entry) use(entry);
    else unallowed.push(d);
  }
  const { differences: _d, ...objectCounts } = comparison;
  const { differences: _r, ...routingCounts } = routing;
  const counts = { ...objectCounts, ...routingCounts };
  reports.push({ name, comparison: counts, allowed: comparison.differences.length + routing.differences.length - unallowed.length, unallowed });
  return unallowed;
}

/** Revisions whose Deployment says a data-plane mode other than `full` (absent = full), with the mode. */
function nonFullRevisions(objects: Record<string, unknown>[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of objects.filter((x) => x.kind === 'Deployment')) {
    const meta = o.metadata as { labels?: Record<string, string>; annotations?: Record<string, string> };
    const mode = meta.annotations?.[DATA_PLANE_ANNOTATION];
    const revision = meta.labels?.[Labels.REVISION];
    if (mode !== undefined && mode !== 'full' && revision) out[revision] = mode;
  }
  return out;
}

/** A revision's own objects on either side: labelled with it, or named after it (`REV`, `REV-private`, `REV-deployment`). */
function ofRevision(o: Record<string, unknown>, revision: string): boolean {
  const meta = o.metadata as { name?: string; labels?: Record<string, string> };
  if (meta.labels?.[Labels.REVISION] === revision) return true;
  return o.kind !== 'VirtualService' && o.kind !== 'Ingress' && o.kind !== 'Route' && (meta.name === revision || (meta.name ?? '').startsWith(`${revision}-`));
}

interface CompileCase {
  readonly name: string;
  /** What the CLI is given (a folder or files). */
  readonly inputs: readonly string[];
  /** The YAML files in them, for the oracle. */
  readonly files: readonly string[];
  readonly config?: string;
  readonly history?: string; // copied into a scratch file both programs see
}

function goldenCases(): CompileCase[][] {
  return readdirSync(GOLDEN).filter((d) => statSync(path.join(GOLDEN, d)).isDirectory()).sort().map((name) => {
    const dir = path.join(GOLDEN, name);
    const steps = readdirSync(dir).filter((d) => d.startsWith('step') && statSync(path.join(dir, d)).isDirectory()).sort();
    const config = existsSync(path.join(dir, 'config.yaml')) ? path.join(dir, 'config.yaml') : undefined;
    const history = existsSync(path.join(dir, 'history.yaml')) ? path.join(dir, 'history.yaml') : undefined;
    const step = (label: string, input: string): CompileCase => ({ name: label, inputs: [input], files: yamlFiles(input), config, history });
    if (steps.length === 0) return [step(`golden ${name}`, path.join(dir, 'input'))];
    return steps.map((s) => step(`golden ${name}/${s}`, path.join(dir, s, 'input')));
  });
}

function exampleCases(): CompileCase[][] {
  return readdirSync(EXAMPLES).sort().map((name) => {
    const dir = path.join(EXAMPLES, name);
    const history = existsSync(path.join(dir, 'history.yaml')) ? path.join(dir, 'history.yaml') : undefined;
    const files = yamlFiles(dir).filter((f) => f !== history);
    return [{ name: `example ${name}`, inputs: files, files, history }];
  });
}

/** Runs the steps of one case in order, one history file carried between them (as golden.test.ts does). */
async function runSteps(steps: CompileCase[]): Promise<Difference[]> {
  const scratch = tempDir();
  work.push(scratch);
  const historyFile = path.join(scratch, 'history.yaml');
  if (steps[0].history) copyFileSync(steps[0].history, historyFile);
  const keepsHistory = steps[0].history !== undefined || steps.length > 1;
  const unallowed: Difference[] = [];
  for (const step of steps) {
    const files = [...step.files];
    const args = ['compile', ...step.inputs];
    if (step.config) args.push('--config', step.config);
    if (keepsHistory) args.push('--history', historyFile);
    const ours = await run(args);
    expect(ours.stderr, step.name).toBe('');
    expect(ours.code, step.name).toBe(0);
    const config = step.config ? withoutTypeMeta(parse(readFileSync(step.config, 'utf8'))) : undefined;
    const input = { files, config, settings, history: keepsHistory ? historyFile : undefined };
    let theirs = await runOracle(oracle, scratch, input);
    const refused = refusal(step.name, theirs);
    if (refused && !refused.rerun) {
      reports.push({ name: step.name, allowed: 0, unallowed: [] }); // Knative created nothing to compare
      continue;
    }
    // The entry names oracle flags that supply what Knative needs (e.g. exported metadata).
    if (refused) theirs = await runOracle(oracle, scratch, { ...input, flags: refused.rerun });
    unallowed.push(...check(step.name, ours.stdout, files, theirs));
  }
  return unallowed;
}

/** The parts of a kservice VirtualService the edits above touch. */
interface VirtualServiceJson {
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    hosts: string[];
    http: {
      match: { authority: { prefix: string }; gateways: string[] }[];
      route: { weight: number; destination: { port: { number: number } }; headers: { request: { set: Record<string, string> } } }[];
      retries?: unknown;
      timeout?: unknown;
    }[];
  };
}

function withoutTypeMeta(doc: Record<string, unknown>): ServingConfigProps {
  const { apiVersion: _a, kind: _k, ...props } = doc;
  return props as ServingConfigProps;
}

describe('kservice compile against Knative 1.23 (knative.dev/serving v0.50.0; routing against its KIngress)', () => {
  const compileCases = [...goldenCases(), ...exampleCases()];
  it.each(compileCases.map((steps) => [steps[0].name.replace(/\/step.*/, ''), steps] as const))(
    '%s: every difference is allowed',
    async (_name, steps) => {
      const unallowed = await runSteps(steps);
      expect(unallowed.map(describeDifference)).toEqual([]);
    },
    300_000,
  );

  const badInput = loadBadInputCases();
  it.each(badInput.map((c) => [c.name, c] as const))('bad input "%s": Knative decides the same', async (_name, c) => {
    await compareDecision(c);
  }, 120_000);

  // The example fixtures stand for examples/charts.ts: the CLI compiles each to the same
  // per-service objects the construct synthesizes, so the comparison above covers the examples.
  const charts = synthExamples();
  it.each(readdirSync(EXAMPLES).sort())('fixture %s is the example chart of the same name', async (name) => {
    const dir = path.join(EXAMPLES, name);
    const history = path.join(dir, 'history.yaml');
    const scratch = tempDir();
    work.push(scratch);
    const args = ['compile', ...yamlFiles(dir).filter((f) => f !== history)];
    if (existsSync(history)) {
      copyFileSync(history, path.join(scratch, 'history.yaml'));
      args.push('--history', path.join(scratch, 'history.yaml'));
    }
    const ours = await run(args);
    expect(ours.code, ours.stderr).toBe(0);
    const chart = charts[name];
    expect(chart, `examples/charts.ts has a chart ${name}`).toBeDefined();
    const fromChart = perServiceObjects(chart.map((o) => stringify(o)).join('---\n'), new Set());
    const fromFixture = perServiceObjects(ours.stdout, new Set());
    expect(compareObjects(name, fromFixture, fromChart).differences.map(describeDifference)).toEqual([]);
  });

  // The routing form is only worth something if a change a client would notice shows up in it:
  // each edit of kservice's VirtualServices below must give a difference no entry allows.
  it('the routing comparison sees every change a client would notice (traffic-tags golden)', async () => {
    const input = path.join(GOLDEN, 'traffic-tags', 'input');
    const scratch = tempDir();
    work.push(scratch);
    const ours = await run(['compile', input]);
    expect(ours.code, ours.stderr).toBe(0);
    const theirs = await runOracle(oracle, scratch, { files: yamlFiles(input), settings });
    const ingresses = theirs.objects.filter((o) => o.kind === 'Ingress');
    const virtualServices = () => perServiceObjects(ours.stdout, new Set()).filter((o) => o.kind === 'VirtualService') as unknown as VirtualServiceJson[];
    const unallowedAfter = (edit: (vses: VirtualServiceJson[]) => void) => {
      const vses = virtualServices();
      edit(vses);
      const found = compareRouting('edit', vses as unknown as Record<string, unknown>[], ingresses, { compared: 0, equal: 0 }).differences;
      return found.filter((d) => !allowlist.some((e) => e.match?.some((m) => matches(m, d)))).map((d) => `${d.path} [${d.change}]`);
    };
    const ingressVs = (vses: VirtualServiceJson[]) => vses.find((v) => v.metadata.name === 'shop-ingress')!;
    const externalDefault = (vses: VirtualServiceJson[]) =>
      ingressVs(vses).spec.http.find((r) => r.match[0].authority.prefix === 'shop.store.example.com')!;
    expect(unallowedAfter(() => {}), 'unedited').toEqual([]);
    const edits: [string, (vses: VirtualServiceJson[]) => void, RegExp][] = [
      ['a weight', (v) => { externalDefault(v).route[0].weight -= 10; }, /^\/views\/external\/shop\.store\.example\.com\/0\/splits\/\d\/percent /],
      ['a port', (v) => { externalDefault(v).route[0].destination.port.number = 81; }, /\/splits\/\d\/port /],
      ['a revision header', (v) => { delete externalDefault(v).route[0].headers.request.set['Knative-Serving-Revision']; }, /\/appendHeaders\/Knative-Serving-Revision /],
      ['retries', (v) => { externalDefault(v).retries = { attempts: 3 }; }, /\/0\/retries /],
      ['a timeout', (v) => { externalDefault(v).timeout = '10s'; }, /\/0\/timeout /],
      ['a host', (v) => { ingressVs(v).spec.hosts = ingressVs(v).spec.hosts.filter((h) => h !== 'candidate-shop.store.example.com'); },
        /^\/views\/external\/candidate-shop\.store\.example\.com \[only-knative\]/],
      ['a gateway', (v) => { externalDefault(v).match[0].gateways = [Gateways.LOCAL]; }, /^\/views\/cluster-local\/shop\.store\.example\.com \[only-kservice\]/],
      ['the mesh', (v) => { v.splice(v.findIndex((x) => x.metadata.name === 'shop-mesh'), 1); }, /^\/views\/mesh \[only-knative\]/],
      ['a label', (v) => { ingressVs(v).metadata.labels[Labels.ROUTE] = 'other'; }, /^\/virtualServices\/shop-ingress\/labels\//],
    ];
    for (const [what, edit, expected] of edits) {
      const found = unallowedAfter(edit);
      expect(found.some((d) => expected.test(d)), `${what}: ${found.join(', ')}`).toBe(true);
    }
  }, 120_000);

  it('only full-mode revisions are compared: the others are left out for their mode, and only they', () => {
    // The data-plane-modes golden: one revision per mode, and a full earlier revision in the same service.
    expect(leftOut.get('golden data-plane-modes')).toEqual({
      'cruncher-00001': 'direct', 'edge-v2': 'direct', 'lean-00001': 'activator', 'steady-00001': 'static',
    });
    expect(leftOut.get('example data-plane-modes')).toEqual({ 'edge-00001': 'direct', 'lean-00001': 'activator' });
    const compared = reports.find((r) => r.name === 'golden data-plane-modes')?.comparison;
    expect(compared?.objectsCompared, 'edge-v1 (full) and the routes are still compared').toBeGreaterThan(0);
    // Every other case is all `full`: nothing else is left out.
    const others = [...leftOut].filter(([name]) => !name.includes('data-plane-modes'));
    expect(others.length).toBeGreaterThan(10);
    expect(others.filter(([, modes]) => Object.keys(modes).length > 0)).toEqual([]);
  });

  it('every allowlist entry still matches a difference, setting or decision', async () => {
    const rotten = allowlist.filter((e) => e.scope === undefined && !e.setting && (used.get(e) ?? 0) === 0).map((e) => e.title);
    expect(rotten, 'entries that match nothing any more: remove them (and their README lines)').toEqual([]);
    const deadMatchers = allowlist.flatMap((e) => (e.match ?? []).filter((m) => !usedMatchers.has(m)).map((m) => `${e.title} ${m.kind} ${m.path}`));
    expect(deadMatchers, 'match patterns that match nothing any more: remove them').toEqual([]);
    // A setting must still make a difference: without it Knative's output for the defaults case differs.
    for (const entry of allowlist.filter((e) => e.setting)) {
      const dir = path.join(GOLDEN, 'defaults', 'input');
      const files = yamlFiles(dir);
      const scratch = tempDir();
      work.push(scratch);
      const withIt = await runOracle(oracle, scratch, { files, settings });
      const others = Object.fromEntries(Object.entries(settings).filter(([cm]) => !(cm in entry.setting!)));
      const without = await runOracle(oracle, scratch, { files, settings: others });
      expect(JSON.stringify(without.objects), `${entry.title}: the setting changes nothing any more`).not.toBe(JSON.stringify(withIt.objects));
    }
  }, 120_000);
});

/** Bad input: kservice rejects (exit 1); Knative's webhook rejects, or a reconciler stops. */
async function compareDecision(c: BadInputCase): Promise<void> {
  const dir = tempDir(c.files);
  work.push(dir);
  const args = c.args ?? Object.keys(c.files);
  const configAt = args.indexOf('--config');
  const configFile = configAt >= 0 ? path.join(dir, args[configAt + 1]) : undefined;
  const files = args.filter((a, i) => !a.startsWith('--') && !(configAt >= 0 && i === configAt + 1)).map((f) => path.join(dir, f));
  const config = configFile ? translatableConfig(configFile) : undefined;
  const kserviceOnly = c.argv !== undefined || args.includes('--history') || (configFile !== undefined && config === undefined) ||
    files.some((f) => !existsSync(f) || !statSync(f).isFile());
  if (kserviceOnly) {
    // Usage errors, missing files, --history and config files Knative has no counterpart for.
    decisions.push({ name: c.name, kservice: 'reject', knative: 'n/a', allowed: true, note: 'kservice-only input (arguments, a missing file, --history, a config file with kservice-only fields or YAML errors)' });
    return;
  }
  const ours = await run(['compile', ...files, ...(configFile ? ['--config', configFile] : []), '-o', path.join(dir, 'out')]);
  const theirs = await runOracle(oracle, dir, { files, settings, config }).catch((e: Error & { stderr?: string }) => {
    // A config Knative cannot load: its controllers would not start (config-* parse error).
    if (e.stderr?.includes('knative-oracle: config:')) return { objects: [], rejected: [{ file: 'config', document: 0, kind: 'ConfigMap', name: '', message: e.stderr.trim() }], warnings: [], notReady: [] };
    throw e;
  });
  const kservice = ours.code === 0 ? 'accept' : 'reject';
  const knative = theirs.rejected.length > 0 ? 'reject' : theirs.notReady.length > 0 ? 'not-ready' : 'accept';
  const note = [...theirs.rejected, ...theirs.notReady].map((r) => r.message).join('; ');
  const agree = (kservice === 'reject') === (knative !== 'accept');
  const entry = agree ? undefined : allowlist.find((e) => e.decisions?.includes(c.name));
  if (entry) use(entry);
  decisions.push({ name: c.name, kservice, knative, allowed: agree || entry !== undefined, note });
  expect(agree || entry !== undefined, `kservice ${kservice}s, Knative ${knative}${note ? `: ${note}` : ''}`).toBe(true);
}

/** A --config file whose every field has a Knative ConfigMap counterpart (else undefined). */
function translatableConfig(file: string): ServingConfigProps | undefined {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined; // YAML errors are kservice's file format
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  const props = withoutTypeMeta(doc as Record<string, unknown>);
  const known = new Set(Object.keys(DEFAULT_SERVING_CONFIG));
  const gateways = ['externalGateway', 'localGateway', 'localGatewayService'];
  return Object.keys(props).every((k) => known.has(k) && !gateways.includes(k)) ? props : undefined;
}
