import Ajv, { ErrorObject } from 'ajv';
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { DataPlaneModes } from '../../contract/data-plane';
import { Ports, RevisionDefaults } from '../../contract/constants';
import type { ActivatorAlwaysInPathSettings } from '../kube/revision-deployment';
import { ProbeParseError, defaultProbe, parseProbe } from '../shared/readiness';
import { PodAddress, RevisionInfo, parseAddress } from './revision';

/**
 * Standalone mode (no Kubernetes): revisions and their pods from a JSON file, for local tests and
 * benchmarks. Either an array of revisions or `{ "revisions": [...] }`:
 * `{ namespace, revision, containerConcurrency, timeoutSeconds, queuePort?, pods: ["127.0.0.1:PORT"] }`.
 * The pods are still probed, so one is used only once its queue-proxy answers.
 *
 * A sidecar-less revision (data-plane mode `activator`: pods are the apps' own addresses) adds
 * `"dataPlane": "activator"` and optionally `responseStartTimeoutSeconds`, `idleTimeoutSeconds`
 * (0 = off, the default) and `readinessProbe` (a Kubernetes probe: `httpGet` with path, port,
 * httpHeaders, or `tcpSocket`; without a port, each pod's own port; without a probe, TCP on each
 * pod's port, Knative's default). The activator then enforces those timeouts, runs that probe
 * against each pod and passes the original Host on, as the queue-proxy would.
 *
 * `activators` (IPs) stands for the revision's public Endpoints: with it, each activator whose
 * POD_IP is listed takes only its slice of the pods (./subsetting.ts), as in a cluster.
 */
export interface StaticRevision {
  readonly info: RevisionInfo;
  readonly pods: readonly PodAddress[];
  readonly activators?: readonly string[];
}

export class StaticConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StaticConfigError';
  }
}

const REVISION_SCHEMA = {
  type: 'object',
  required: ['namespace', 'revision', 'pods'],
  additionalProperties: false,
  properties: {
    namespace: { type: 'string', minLength: 1 },
    revision: { type: 'string', minLength: 1 },
    containerConcurrency: { type: 'integer', minimum: 0 },
    timeoutSeconds: { type: 'number', exclusiveMinimum: 0 },
    queuePort: { type: 'integer', minimum: 1, maximum: 65535 },
    dataPlane: { enum: [DataPlaneModes.FULL, DataPlaneModes.ACTIVATOR] },
    responseStartTimeoutSeconds: { type: 'number', minimum: 0 },
    idleTimeoutSeconds: { type: 'number', minimum: 0 },
    readinessProbe: { type: 'object' },
    pods: { type: 'array', items: { type: 'string', pattern: '^(\\[[^\\]]+\\]|[^:\\[\\]]+):\\d{1,5}$' } },
    activators: { type: 'array', items: { type: 'string', minLength: 1 } },
  },
} as const;

const ajv = new Ajv({ allErrors: true });
// Two validators rather than one `oneOf`: the file's top-level shape picks the branch, so the
// messages are about that branch only.
const validateList = ajv.compile({ type: 'array', items: REVISION_SCHEMA });
const validateWrapped = ajv.compile({
  type: 'object',
  required: ['revisions'],
  additionalProperties: false,
  properties: { revisions: { type: 'array', items: REVISION_SCHEMA } },
});

interface RawRevision {
  namespace: string;
  revision: string;
  containerConcurrency?: number;
  timeoutSeconds?: number;
  queuePort?: number;
  dataPlane?: typeof DataPlaneModes.FULL | typeof DataPlaneModes.ACTIVATOR;
  responseStartTimeoutSeconds?: number;
  idleTimeoutSeconds?: number;
  readinessProbe?: Record<string, unknown>;
  pods: string[];
  activators?: string[];
}

const SIDECARLESS_FIELDS = ['responseStartTimeoutSeconds', 'idleTimeoutSeconds', 'readinessProbe'] as const;

export function loadStaticConfig(path: string): StaticRevision[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new StaticConfigError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return parseStaticConfig(text, path);
}

/** Parses the file's text; errors name the file, line and field. */
export function parseStaticConfig(text: string, path = '<static config>'): StaticRevision[] {
  // yaml parses JSON (a subset of YAML 1.2) and keeps source positions for the messages.
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const { line, col } = lines.linePos(e.pos[0]);
    throw new StaticConfigError(`${path}:${line}:${col}: ${e.message.split('\n')[0]}`);
  }
  const data: unknown = doc.toJS();
  const validate = Array.isArray(data) ? validateList : validateWrapped;
  if (!validate(data)) throw new StaticConfigError(describe(validate.errors ?? [], doc, lines, path));
  const list = (Array.isArray(data) ? data : (data as { revisions: RawRevision[] }).revisions) as RawRevision[];
  const at = (i: number, field: string) => {
    const segments = Array.isArray(data) ? [i, field] : ['revisions', i, field];
    const node = doc.getIn(segments, true) as { range?: [number, number, number] } | undefined;
    const { line, col } = node?.range ? lines.linePos(node.range[0]) : { line: 1, col: 1 };
    return `${path}:${line}:${col}: ${Array.isArray(data) ? '' : 'revisions'}[${i}].${field}`;
  };
  return list.map((raw, i) => toStaticRevision(raw, (field) => at(i, field)));
}

function toStaticRevision(raw: RawRevision, at: (field: string) => string): StaticRevision {
  return {
    info: {
      namespace: raw.namespace,
      revision: raw.revision,
      containerConcurrency: raw.containerConcurrency ?? RevisionDefaults.CONTAINER_CONCURRENCY,
      timeoutSeconds: raw.timeoutSeconds ?? RevisionDefaults.TIMEOUT_SECONDS,
      podPort: raw.queuePort ?? Ports.QUEUE_HTTP,
      activatorAlwaysInPath: activatorAlwaysInPathOf(raw, at),
    },
    // The schema's pattern admits only host:port, so parseAddress succeeds (port range aside).
    pods: raw.pods.map((p) => {
      const a = parseAddress(p);
      if (!a) throw new StaticConfigError(`pod address "${p}" has a port outside 1..65535`);
      return a;
    }),
    activators: raw.activators,
  };
}

/** The settings of a `dataPlane: activator` revision; the sidecar-less fields are refused on others. */
function activatorAlwaysInPathOf(raw: RawRevision, at: (field: string) => string): ActivatorAlwaysInPathSettings | undefined {
  if (raw.dataPlane !== DataPlaneModes.ACTIVATOR) {
    const misplaced = SIDECARLESS_FIELDS.find((f) => raw[f] !== undefined);
    if (misplaced) throw new StaticConfigError(`${at(misplaced)} applies only with "dataPlane": "${DataPlaneModes.ACTIVATOR}"`);
    return undefined;
  }
  return {
    responseStartTimeoutSeconds: raw.responseStartTimeoutSeconds ?? 0,
    idleTimeoutSeconds: raw.idleTimeoutSeconds ?? 0,
    probe: staticProbe(raw.readinessProbe, at),
  };
}

/** Port 0 = each pod's own port (pods of one revision may listen on different local ports here). */
function staticProbe(probe: Record<string, unknown> | undefined, at: (field: string) => string): ActivatorAlwaysInPathSettings['probe'] {
  if (probe === undefined) return defaultProbe(0).handler;
  if (probe.exec !== undefined || probe.grpc !== undefined) {
    throw new StaticConfigError(`${at('readinessProbe')}: the activator runs only httpGet and tcpSocket probes`);
  }
  try {
    const handler = parseProbe(probe, '', 0).handler;
    if (handler.kind === 'http' && handler.scheme !== 'http') throw new ProbeParseError('.httpGet.scheme', 'the activator probes over plain HTTP only');
    return handler;
  } catch (err) {
    if (err instanceof ProbeParseError) throw new StaticConfigError(`${at('readinessProbe')}${err.field}: ${err.problem}`);
    throw err;
  }
}

/** The most specific schema errors, each with file:line:col and the field path. */
function describe(errors: ErrorObject[], doc: ReturnType<typeof parseDocument>, lines: LineCounter, path: string): string {
  const messages = errors.slice(0, 8).map((e) => {
    const segments = e.instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    const node = doc.getIn(segments, true) as { range?: [number, number, number] } | undefined;
    const where = node?.range ? lines.linePos(node.range[0]) : { line: 1, col: 1 };
    const field = segments.length > 0 ? segments.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('').replace(/^\./, '') : '(root)';
    return `${path}:${where.line}:${where.col}: ${field} ${e.message ?? 'is invalid'}`;
  });
  return messages.join('\n');
}
