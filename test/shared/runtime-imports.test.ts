import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { queueProxyEnv } from '../../lib/builders/queue-proxy-container';
import { buildRbac } from '../../lib/builders/rbac';
import { buildActivatorDeployment, buildAutoscalerDeployment, buildAutoscalerService } from '../../lib/builders/serving-system';
import { resolveServingConfig } from '../../lib/contract/config';
import { ACTIVATOR_SERVICE, AUTOSCALER, AUTOSCALER_BUCKETS, AUTOSCALER_LEASE, CONFIG_AUTOSCALER, SYSTEM_NAMESPACE } from '../../lib/contract/constants';
import { autoscalerBucketLeases } from '../../lib/contract/naming';
import { readActivatorConfig } from '../../lib/runtime/activator/config';
import { readAutoscalerConfig } from '../../lib/runtime/autoscaler/config';
import { IGNORED_KNATIVE_ENV, readQueueProxyConfig } from '../../lib/runtime/queue-proxy/config';
import { type AnyRequest, probeKind } from '../../lib/runtime/queue-proxy/probe-handler';
import { revisionSpec } from '../compiler/support/spec';

const LIB = resolve(__dirname, '../../lib');

/**
 * The compiler-side modules the runtime may import: `lib/contract/` (ports, names, headers, paths,
 * the autoscaling annotations and config-autoscaler resolved the same way at synth and at run
 * time, child object names, quantities) and the problem list those report bad values with. Not
 * builders, not the model, not constructs, not the CLI. The bundles in dist-runtime/ hold whatever
 * these pull in, so each must stay inside this set (checked transitively below).
 */
function sharedModules(lib: string): string[] {
  const contract = join(lib, 'contract');
  return [...(existsSync(contract) ? tsFiles(contract) : []), join(lib, 'problems.ts')];
}

interface ImportViolation {
  readonly importer: string;
  readonly specifier: string;
  readonly target: string;
}

/** Every .ts file under `dir`, recursively. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/**
 * The relative modules a file imports, resolved to files. TypeScript's own pre-processor finds
 * `import`, `export ... from`, `import type`, dynamic `import()` and `require()`, so a regex's
 * blind spots (multi-line imports, comments) do not apply.
 */
function relativeImports(file: string): { specifier: string; target: string }[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => ({ specifier, target: resolveModule(dirname(file), specifier) }));
}

function resolveModule(fromDir: string, specifier: string): string {
  const base = resolve(fromDir, specifier);
  const candidates = [base, `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? base;
}

/**
 * Imports from `<lib>/runtime/**` that leave the runtime for anything but sharedModules(), and
 * imports from those shared modules (followed transitively) that leave the shared set.
 */
function runtimeImportViolations(lib: string): { violations: ImportViolation[]; runtimeFiles: number; sharedReached: string[] } {
  const runtimeDir = join(lib, 'runtime') + sep;
  const shared = new Set(sharedModules(lib));
  const violations: ImportViolation[] = [];
  const reached = new Set<string>();
  const runtimeFiles = tsFiles(runtimeDir);
  const queue: string[] = [];
  const check = (importer: string) => {
    for (const { specifier, target } of relativeImports(importer)) {
      if (target.startsWith(runtimeDir) && !shared.has(importer)) continue;
      if (!shared.has(target)) {
        violations.push({ importer: relative(lib, importer), specifier, target: relative(lib, target) });
      } else if (!reached.has(target)) {
        reached.add(target);
        queue.push(target);
      }
    }
  };
  runtimeFiles.forEach(check);
  while (queue.length > 0) check(queue.shift()!);
  return { violations, runtimeFiles: runtimeFiles.length, sharedReached: [...reached].map((f) => relative(lib, f)).sort() };
}

describe('the runtime imports only the shared contract modules from the compiler side', () => {
  const result = runtimeImportViolations(LIB);

  it('finds the runtime files and the shared modules they use', () => {
    // Guards the walker itself: a broken resolver would find no imports and pass vacuously.
    expect(result.runtimeFiles).toBeGreaterThan(20);
    expect(result.sharedReached).toEqual(expect.arrayContaining(['contract/constants.ts', 'contract/autoscaling.ts', 'contract/naming.ts', 'contract/config.ts'].map((f) => join(...f.split('/')))));
  });

  it('has no import of a builder, construct, the CLI or any other compiler module', () => {
    expect(result.violations).toEqual([]);
  });

  describe('the check catches what it should', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'runtime-imports-'));
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));

    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(scratch, path)), { recursive: true });
      writeFileSync(join(scratch, path), text);
    };
    write('contract/constants.ts', "export const A = 1;\n");
    write('contract/autoscaling.ts', "import { spec } from '../builders/spec';\nexport const B = spec;\n");
    write('builders/spec.ts', "export const spec = 1;\n");
    write('builders/rbac.ts', "export const LEASE = 'x';\n");
    write('runtime/a/one.ts', "import { A } from '../../contract/constants';\nimport {\n  LEASE,\n} from '../../builders/rbac';\n");
    write('runtime/a/two.ts', "import { B } from '../../contract/autoscaling';\nexport const lazy = () => import('../../builders/rbac');\n");
    write('runtime/a/three.ts', "import './one';\nexport * from '../../contract/constants';\n");

    it('flags a direct multi-line import, a dynamic import, and a shared module that imports a builder', () => {
      const { violations } = runtimeImportViolations(scratch);
      expect(violations).toEqual(
        expect.arrayContaining([
          { importer: join('runtime', 'a', 'one.ts'), specifier: '../../builders/rbac', target: join('builders', 'rbac.ts') },
          { importer: join('runtime', 'a', 'two.ts'), specifier: '../../builders/rbac', target: join('builders', 'rbac.ts') },
          { importer: join('contract', 'autoscaling.ts'), specifier: '../builders/spec', target: join('builders', 'spec.ts') },
        ]),
      );
      expect(violations).toHaveLength(3);
    });
  });
});

describe('compiled system objects and the runtime agree on the contract values', () => {
  const spec = {
    config: resolveServingConfig(),
    runtimeImage: 'runtime:test',
    namespaces: ['default'],
    activatorReplicas: 1,
    autoscalerReplicas: 1,
    autoscalerBuckets: AUTOSCALER_BUCKETS,
  };
  const autoscalerDefaults = readAutoscalerConfig({ KSERVICE_NAMESPACES: 'default' });
  const activatorDefaults = readActivatorConfig({ KSERVICE_NAMESPACES: 'default' });

  const containerPorts = (deployment: unknown): number[] =>
    ((deployment as any).spec.template.spec.containers[0].ports as { containerPort: number }[]).map((p) => p.containerPort);

  it('the autoscaler listens where its compiled Service and container send traffic', () => {
    const service = buildAutoscalerService() as any;
    const http = (service.spec.ports as { name: string; port: number; targetPort: number }[]).find((p) => p.name === 'http');
    expect(http).toEqual({ name: 'http', port: autoscalerDefaults.httpPort, targetPort: autoscalerDefaults.httpPort });
    expect(service.metadata).toMatchObject({ name: AUTOSCALER, namespace: autoscalerDefaults.systemNamespace });
    expect(containerPorts(buildAutoscalerDeployment(spec))).toContain(autoscalerDefaults.httpPort);
  });

  it('the activator listens on the ports its compiled container declares', () => {
    expect(containerPorts(buildActivatorDeployment(spec))).toEqual(
      expect.arrayContaining([activatorDefaults.httpPort, activatorDefaults.h2cPort, activatorDefaults.metricsPort]),
    );
    expect(activatorDefaults.systemNamespace).toBe(SYSTEM_NAMESPACE);
  });

  it('the compiled Roles let the autoscaler hold its Lease and read the objects it watches', () => {
    const objects = buildRbac([{ name: 'r', namespace: 'default', autoscalingClass: 'kpa.autoscaling.knative.dev', dataPlane: 'full' }]) as any[];
    const systemRules = objects
      .filter((o) => o.kind === 'Role' && o.metadata.namespace === SYSTEM_NAMESPACE)
      .flatMap((o) => o.rules as { resources: string[]; resourceNames?: string[]; verbs: string[] }[]);
    const names = (resource: string, verb: string) =>
      systemRules.filter((r) => r.resources.includes(resource) && r.verbs.includes(verb)).flatMap((r) => r.resourceNames ?? []);
    // One bucket (the default) keeps the leader Lease's name.
    expect(autoscalerDefaults.bucketLeases).toEqual([AUTOSCALER_LEASE]);
    expect(autoscalerDefaults.bucketLeases).toEqual(autoscalerBucketLeases(AUTOSCALER_BUCKETS));
    for (const lease of autoscalerDefaults.bucketLeases) expect(names('leases', 'update')).toContain(lease);
    expect(names('endpoints', 'get')).toEqual(expect.arrayContaining([ACTIVATOR_SERVICE, AUTOSCALER]));
    expect(names('configmaps', 'get')).toContain(CONFIG_AUTOSCALER);
  });

  it('with more buckets, the compiled env and Role name the same bucket Leases the runtime then holds', () => {
    const container = (buildAutoscalerDeployment({ ...spec, autoscalerBuckets: 4 }) as any).spec.template.spec.containers[0];
    const env = Object.fromEntries((container.env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    const runtime = readAutoscalerConfig({ ...env, KSERVICE_NAMESPACES: 'default' });
    expect(runtime.bucketLeases).toEqual(['kservice-autoscaler-bucket-00-of-04', 'kservice-autoscaler-bucket-01-of-04', 'kservice-autoscaler-bucket-02-of-04', 'kservice-autoscaler-bucket-03-of-04']);
    const role = (buildRbac([], 4) as any[]).find((o) => o.kind === 'Role' && o.metadata.namespace === SYSTEM_NAMESPACE && o.rules.some((r: any) => r.resources.includes('leases')));
    const updatable = (role.rules as { resources: string[]; resourceNames?: string[]; verbs: string[] }[])
      .filter((r) => r.resources.includes('leases') && r.verbs.includes('update'))
      .flatMap((r) => r.resourceNames ?? []);
    expect(updatable).toEqual(runtime.bucketLeases);
    // The default count is left to the runtime's own default: no env.
    const plain = (buildAutoscalerDeployment(spec) as any).spec.template.spec.containers[0];
    expect((plain.env as { name: string }[]).map((e) => e.name)).not.toContain('AUTOSCALER_BUCKETS');
  });

  it('the queue-proxy reads, or knowingly ignores, every variable its compiled container sets', () => {
    const compiled = queueProxyEnv(revisionSpec());
    const values = Object.fromEntries(compiled.map((e) => [e.name, e.value ?? 'from-field-ref']));
    // Records the names readQueueProxyConfig looks up, on the environment the compiler produced.
    const read = new Set<string>();
    const env = new Proxy(values, { get: (target, name: string) => (read.add(name), target[name]) });
    expect(readQueueProxyConfig(env).revision).toBe(values.SERVING_REVISION);
    const unaccounted = compiled.map((e) => e.name).filter((name) => !read.has(name) && !(name in IGNORED_KNATIVE_ENV));
    expect(unaccounted).toEqual([]);
  });

  it("the queue-proxy answers Knative's probe user agents as health checks, not as traffic", () => {
    // knative/serving pkg/queue/sharedmain/handlers.go: HealthCheckUAPrefixes are the activator's
    // and the autoscaling probe's agents (knative.dev/networking pkg/http/header/header.go).
    const kind = (agent: string) => probeKind({ headers: { 'user-agent': agent } } as unknown as AnyRequest);
    expect(kind('Knative-Activator-Probe')).toBe('unexpected');
    expect(kind('Knative-Autoscaling-Probe')).toBe('unexpected');
    expect(kind('kube-probe/1.36')).toBe('unexpected');
    expect(kind('curl/8')).toBeUndefined();
  });
});
