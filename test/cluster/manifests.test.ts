// The compiled manifests against a real API server: every example (synthesized in-process from
// examples/charts.ts) and the output of `kservice compile` on every CLI golden input is accepted by
// server-side apply with strict field validation (Istio and Gateway API CRDs installed first), and so
// is a Gateway-API-mode synthesis (examples/charts.ts buildGatewayApiApp); re-applying keeps
// the addresses the runtime wrote into the public Endpoints; broken objects are rejected. The
// installed CRDs are read back whole: their `x-kubernetes-*` keys (CEL rules, list types,
// preserve-unknown-fields) must have reached the API server.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, type KubernetesObject, type V1Endpoints } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildExamplesApp, buildGatewayApiApp } from '../../examples/charts';
import { gatewayApiCrdObjects, installGatewayApiCrds } from './crds/gateway-api-crds';
import { istioCrdObjects, useControlPlane } from './harness';
import { REPO_ROOT } from './node-agent/images';
import { applyOrder, missingNamespaces } from './scenarios/support/serving';
import { StrictApplier, type ApplyError } from './scenarios/support/strict-apply';

const GOLDEN = join(REPO_ROOT, 'test', 'cli', 'golden');
const CLI = join(REPO_ROOT, 'bin', 'kservice.js');
const MANAGER = 'kservice';
const RUNTIME_MANAGER = 'kservice-autoscaler';

const controlPlane = useControlPlane();
let applier: StrictApplier;
const work: string[] = [];

function parseStream(yaml: string): KubernetesObject[] {
  return parseAllDocuments(yaml).map((d) => d.toJS() as KubernetesObject).filter((o) => o && o.kind);
}

function exampleObjects(): KubernetesObject[] {
  return parseStream(buildExamplesApp({ outdir: '/nonexistent-not-written' }).synthYaml());
}

/** The Gateway-API-mode synthesis: the gateway-api example and a ServingSystem with the same config. */
function gatewayApiObjects(): KubernetesObject[] {
  return parseStream(buildGatewayApiApp({ outdir: '/nonexistent-not-written' }).synthYaml());
}

interface GoldenRun {
  readonly name: string;
  readonly objects: KubernetesObject[];
}

/** `kservice compile` on each golden case (steps in order, sharing one history file). */
function goldenRuns(): GoldenRun[] {
  const runs: GoldenRun[] = [];
  for (const name of readdirSync(GOLDEN).sort()) {
    const caseDir = join(GOLDEN, name);
    if (!statSync(caseDir).isDirectory()) continue;
    const steps = readdirSync(caseDir).filter((d) => d.startsWith('step')).sort();
    const history = join(mkdtempSync(join(tmpdir(), 'kservice-golden-')), 'history.yaml');
    work.push(join(history, '..'));
    for (const step of steps.length ? steps : ['']) {
      const dir = join(caseDir, step);
      const args = [CLI, 'compile', join(dir, 'input')];
      if (existsSync(join(caseDir, 'config.yaml'))) args.push('--config', join(caseDir, 'config.yaml'));
      if (steps.length || existsSync(join(caseDir, 'history.yaml'))) args.push('--history', history);
      const out = execFileSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8' });
      // Knative documents the compiler passes through untouched (e.g. an unsupported apiVersion in
      // the passthrough case) cannot be applied: a Knative-less cluster has no such CRDs by design.
      const objects = parseStream(out).filter((o) => !o.apiVersion?.startsWith('serving.knative.dev/'));
      runs.push({ name: step ? `${name}/${step}` : name, objects });
    }
  }
  return runs;
}

/** Namespaces the objects live in that they do not create themselves; created for real. */
async function ensureNamespaces(objects: readonly KubernetesObject[]): Promise<void> {
  await controlPlane().applyObjects(missingNamespaces(objects), 'manifests-test');
}

async function applyAll(objects: readonly KubernetesObject[], opts: { dryRun?: boolean } = {}): Promise<ApplyError[]> {
  await ensureNamespaces(objects);
  const errors: ApplyError[] = [];
  for (const o of applyOrder(objects)) {
    // Namespaces are applied for real even in a dry run: a dry-run Namespace cannot hold a dry-run object.
    const err = await applier.apply(o, MANAGER, { dryRun: opts.dryRun && o.kind !== 'Namespace' });
    if (err) errors.push(err);
  }
  return errors;
}

beforeAll(async () => {
  await controlPlane().installIstioCrds();
  await installGatewayApiCrds(controlPlane().kubeConfig);
  applier = new StrictApplier(controlPlane().kubeConfig);
});

afterAll(() => {
  for (const dir of work) rmSync(dir, { recursive: true, force: true });
});

type CrdVersions = { spec: { versions: Array<{ name: string; schema?: unknown }> } };

/** The CRD as stored, as raw JSON: client-node's typed reader would rename `x-kubernetes-*` keys. */
async function storedCrd(name: string): Promise<CrdVersions> {
  const api = controlPlane().kubeConfig.makeApiClient(CustomObjectsApi);
  return (await api.getClusterCustomObject({ group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', name })) as CrdVersions;
}

describe('installed CRDs keep their full schemas', () => {
  it.each([...istioCrdObjects(), ...gatewayApiCrdObjects()].map((c) => [c.metadata!.name!, c] as const))('%s: stored schemas equal the committed file', async (name, crd) => {
    const schemas = (c: CrdVersions) => c.spec.versions.map((v) => ({ name: v.name, schema: v.schema }));
    // An empty `properties: {}` (the generated Istio CRDs have some) is not stored: JSONSchemaProps
    // marshals it with omitempty (k8s.io/apiextensions-apiserver pkg/apis/apiextensions/v1/types_jsonschema.go).
    const withoutEmptyProperties = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (key, value: unknown) =>
      key === 'properties' && typeof value === 'object' && value !== null && Object.keys(value).length === 0 ? undefined : value)) as unknown;
    expect(schemas(await storedCrd(name))).toEqual(withoutEmptyProperties(schemas(crd as unknown as CrdVersions)));
  });

  it('the stored HTTPRoute CRD carries the CEL rules on spec.parentRefs and on Service backendRefs', async () => {
    const messages: string[] = [];
    JSON.stringify(await storedCrd('httproutes.gateway.networking.k8s.io'), (key, value: unknown) => {
      if (key === 'x-kubernetes-validations') messages.push(...(value as Array<{ message: string }>).map((r) => r.message));
      return value;
    });
    expect(messages).toContain('sectionName must be unique when parentRefs includes 2 or more references to the same parent');
    expect(messages).toContain('Must have port for Service reference');
  });
});

describe('compiled manifests on a real API server', () => {
  it('accepts every example (applied for real)', async () => {
    const objects = exampleObjects();
    expect(objects.length).toBeGreaterThan(20);
    expect(await applyAll(objects)).toEqual([]);
  });

  it('accepts a Gateway-API-mode synthesis: HTTPRoutes and Gateways against the Gateway API CRDs v1.4.1 (applied for real)', async () => {
    const objects = gatewayApiObjects();
    expect(objects.filter((o) => o.kind === 'HTTPRoute')).toHaveLength(4);
    expect(objects.filter((o) => o.apiVersion === 'gateway.networking.k8s.io/v1' && o.kind === 'Gateway')).toHaveLength(2);
    expect(await applyAll(objects)).toEqual([]);
  });

  it('accepts the output of `kservice compile` for every CLI golden input (server-side dry run)', async () => {
    const runs = goldenRuns();
    expect(runs.length).toBeGreaterThanOrEqual(10);
    const failures: Array<ApplyError & { golden: string }> = [];
    for (const run of runs) {
      expect(run.objects.length, `${run.name} compiles to objects`).toBeGreaterThan(0);
      for (const e of await applyAll(run.objects, { dryRun: true })) failures.push({ golden: run.name, ...e });
    }
    expect(failures).toEqual([]);
  });

  it('re-applying keeps the public Endpoints addresses another field manager (the runtime) wrote', async () => {
    const objects = exampleObjects();
    const publicEndpoints = objects.filter((o) => o.kind === 'Endpoints' && !(o as V1Endpoints).subsets);
    expect(publicEndpoints.length).toBeGreaterThan(0);
    const core = controlPlane().kubeConfig.makeApiClient(CoreV1Api);
    const subsets = [{ addresses: [{ ip: '10.200.0.7' }], ports: [{ name: 'http', port: 8012 }, { name: 'https', port: 8112 }] }];
    for (const ep of publicEndpoints) {
      const name = ep.metadata?.name ?? '';
      const namespace = ep.metadata?.namespace ?? 'default';
      const current = await core.readNamespacedEndpoints({ name, namespace });
      // The runtime writes with update on the named object (its RBAC allows nothing else).
      await core.replaceNamespacedEndpoints({ name, namespace, body: { ...current, subsets }, fieldManager: RUNTIME_MANAGER });
    }
    expect(await applyAll(objects)).toEqual([]);
    for (const ep of publicEndpoints) {
      const stored = await core.readNamespacedEndpoints({ name: ep.metadata?.name ?? '', namespace: ep.metadata?.namespace ?? 'default' });
      expect(stored.subsets?.[0]?.addresses?.map((a) => a.ip), `${ep.metadata?.namespace}/${ep.metadata?.name}`).toEqual(['10.200.0.7']);
      expect(stored.metadata?.managedFields?.some((f) => f.manager === RUNTIME_MANAGER)).toBe(true);
    }
  });

  describe('rejects broken objects', () => {
    type DeploymentDoc = KubernetesObject & { metadata: { name: string }; spec: { selector: { matchLabels: Record<string, string> } } & Record<string, unknown> };
    const deployment = (): DeploymentDoc => structuredClone(exampleObjects().find((o) => o.kind === 'Deployment' && o.metadata?.namespace !== 'knative-serving')) as DeploymentDoc;

    it.each<[string, () => KubernetesObject, RegExp]>([
      ['a Deployment whose selector does not match its pod labels', () => {
        const d = deployment();
        d.metadata.name = 'broken-selector';
        d.spec.selector.matchLabels = { 'serving.knative.dev/revision': 'some-other-revision' };
        return d;
      }, /selector.*does not match template labels|`selector` does not match/],
      ['an Endpoints with a loopback address', () => ({
        apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'loopback', namespace: 'default' },
        subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'http', port: 8012 }] }],
      } as KubernetesObject), /loopback/],
      ['a VirtualService whose route weight is not an integer (CRD schema)', () => ({
        apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService', metadata: { name: 'bad-weight', namespace: 'default' },
        spec: { hosts: ['x.default'], http: [{ route: [{ destination: { host: 'x.default.svc.cluster.local' }, weight: 'fifty' }] }] },
      } as KubernetesObject), /weight/],
      ['an HTTPRoute whose Service backendRef has no port (Gateway API CRD CEL rule)', () => {
        const route = structuredClone(gatewayApiObjects().find((o) => o.kind === 'HTTPRoute')) as KubernetesObject & { spec: { rules: { backendRefs: { port?: number }[] }[] } };
        route.metadata!.name = 'no-port.example.com';
        delete route.spec.rules[0].backendRefs[0].port;
        return route;
      }, /Must have port for Service reference/],
      ['an HTTPRoute naming the same Gateway twice without sectionName (Gateway API CRD CEL rule on spec.parentRefs)', () => {
        // A rule outside any `items` schema: client-node's CRD model kept `items` subtrees raw, so
        // the backendRef rule above survived the old install path, this one did not.
        const route = structuredClone(gatewayApiObjects().find((o) => o.kind === 'HTTPRoute')) as KubernetesObject & { spec: { parentRefs: unknown[] } };
        route.metadata!.name = 'twice-same-parent.example.com';
        route.spec.parentRefs = [route.spec.parentRefs[0], route.spec.parentRefs[0]];
        return route;
      }, /sectionName must be unique when parentRefs includes 2 or more references to the same parent/],
      ['an HTTPRoute with a field the Gateway API does not know (strict field validation)', () => {
        const route = structuredClone(gatewayApiObjects().find((o) => o.kind === 'HTTPRoute')) as KubernetesObject & { spec: Record<string, unknown> };
        route.metadata!.name = 'unknown-field.example.com';
        route.spec.hostname = 'typo.example.com';
        return route;
      }, /spec\.hostname: field not declared in schema|unknown field "spec\.hostname"/],
      ['a Deployment with a field Kubernetes does not know (strict field validation)', () => {
        const d = deployment();
        d.metadata.name = 'unknown-field';
        d.spec.replicaCount = 3;
        return d;
      }, /spec\.replicaCount: field not declared in schema|unknown field "spec\.replicaCount"/],
    ])('%s', async (_what, build, message) => {
      const err = await applier.apply(build(), MANAGER);
      expect(err?.status, JSON.stringify(err)).toBeGreaterThanOrEqual(400);
      expect(err?.message).toMatch(message);
    });
  });
});
