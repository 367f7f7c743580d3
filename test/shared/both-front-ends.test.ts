/**
 * One rule, one message, both front ends (issue 10): every case is written once, as a Knative
 * Service, and runs through
 *  - the CLI: `kservice compile` on the file (in process), giving FILE:LINE:COL PATH: MESSAGE;
 *  - the constructs: `new KService(...)` with the props the CLI's own knative-to-props builds from
 *    the same document (and the same --config), giving a ValidationError.
 * Both must report the same problems: the same message text, and the construct's property path
 * mapped back to the document (graph.ts documentProblem) must be the CLI's field path. Cases that
 * Knative accepts must pass both. Rules only a document can state (configurationName, two ports,
 * unknown fields, YAML types) are in test/cli/bad-input.test.ts.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { KService, ValidationError } from '../../lib';
import { compile } from '../../lib/cli/compile';
import { parseConfig } from '../../lib/cli/config-file';
import { DiagnosticError } from '../../lib/cli/diagnostics';
import { documentProblem } from '../../lib/cli/graph';
import { serviceToProps } from '../../lib/cli/knative-to-props';
import type { KnativeService } from '../../lib/cli/knative-types';
import { DATA_PLANE_ANNOTATION } from '../../lib/contract/autoscaling';
import { Names } from '../../lib/contract/naming';
import { formatPath } from '../../lib/problems';
import { workDirs } from '../cli/helpers';

type Json = Record<string, unknown>;

interface Case {
  readonly name: string;
  /** Merged into the base Service below (objects merge, lists replace). */
  readonly service: Json;
  /** The --config file, when the case needs one. */
  readonly config?: Json;
  /** [document field path, message]; empty: both accept it. */
  readonly problems: readonly (readonly [string, string])[];
  /** What the CLI adds after the model's message (where it looks for revisions). */
  readonly cliSuffix?: string;
}

const IMAGE = 'ghcr.io/example/hello:1';
const BASE: Json = {
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  metadata: { name: 'hello' },
  spec: { template: { spec: { containers: [{ image: IMAGE }] } } },
};

function merge(base: Json, patch: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const old = out[key];
    const bothObjects = [old, value].every((v) => typeof v === 'object' && v !== null && !Array.isArray(v));
    out[key] = bothObjects ? merge(old as Json, value as Json) : value;
  }
  return out;
}

/** A patch of spec.template.spec. */
const spec = (s: Json): Json => ({ spec: { template: { spec: s } } });
/** A patch of spec.template.metadata.annotations. */
const annotations = (a: Record<string, string>): Json => ({ spec: { template: { metadata: { annotations: a } } } });
const traffic = (...targets: Json[]): Json => ({ spec: { traffic: targets } });
const container = (c: Json): Json => spec({ containers: [{ image: IMAGE, ...c }] });
const A = 'autoscaling.knative.dev/';
const at = (key: string) => `spec.template.metadata.annotations["${key}"]`;
const C0 = 'spec.template.spec.containers[0]';
const PORTS = 'queue-proxy and the runtime use 8012, 8013, 8022, 9090, 9091, 8008, 8112';
const DNS1035 = 'must be a DNS-1035 label: lowercase letters, digits and "-", starting with a letter, at most 63 characters';

const cases: Case[] = [
  // --- timeouts (knative/serving pkg/apis/serving/v1/revision_validation.go validateTimeoutSeconds)
  { name: 'responseStartTimeout above timeout (Knative bounds neither by the other)',
    service: spec({ timeoutSeconds: 300, responseStartTimeoutSeconds: 600, idleTimeoutSeconds: 900 }), problems: [] },
  { name: 'timeout above max-revision-timeout-seconds', service: spec({ timeoutSeconds: 601 }),
    problems: [['spec.template.spec.timeoutSeconds', 'must be between 0 and 600 (max-revision-timeout-seconds), got 601']] },
  { name: 'timeout above a configured maximum', service: spec({ timeoutSeconds: 1000 }), config: { maxRevisionTimeoutSeconds: 900 },
    problems: [['spec.template.spec.timeoutSeconds', 'must be between 0 and 900 (max-revision-timeout-seconds), got 1000']] },

  // --- containerConcurrency
  { name: 'containerConcurrency above 1000', service: spec({ containerConcurrency: 1001 }),
    problems: [['spec.template.spec.containerConcurrency', 'must be a whole number from 0 to 1000, got 1001']] },
  { name: 'containerConcurrency below 0', service: spec({ containerConcurrency: -1 }),
    problems: [['spec.template.spec.containerConcurrency', 'must be a whole number from 0 to 1000, got -1']] },

  // --- ports, env, container names
  { name: 'reserved port', service: container({ ports: [{ containerPort: 8012 }] }),
    problems: [[`${C0}.ports[0].containerPort`, `port 8012 is reserved (${PORTS})`]] },
  { name: 'port out of range', service: container({ ports: [{ containerPort: 70000 }] }),
    problems: [[`${C0}.ports[0].containerPort`, 'must be a port number from 1 to 65535, got 70000']] },
  { name: 'port name that is not a protocol', service: container({ ports: [{ name: 'grpc', containerPort: 9000 }] }),
    problems: [[`${C0}.ports[0].name`, 'must be "http1" or "h2c", got "grpc"']] },
  { name: 'h2c port accepted', service: container({ ports: [{ name: 'h2c', containerPort: 9000 }] }), problems: [] },
  { name: 'reserved environment variable', service: container({ env: [{ name: 'K_SERVICE', value: 'x' }, { name: 'PORT', value: '1' }] }),
    problems: [[`${C0}.env[0].name`, 'K_SERVICE is reserved (set by the platform)'], [`${C0}.env[1].name`, 'PORT is reserved (set by the platform)']] },
  { name: 'queue-proxy as a container name', service: container({ name: 'queue-proxy' }),
    problems: [[`${C0}.name`, '"queue-proxy" is reserved for the sidecar']] },
  { name: 'duplicate container names',
    service: spec({ containers: [{ image: IMAGE, name: 'app', ports: [{ containerPort: 8080 }] }, { image: IMAGE, name: 'app' }] }),
    problems: [['spec.template.spec.containers[1].name', 'duplicate container name "app"']] },
  { name: 'several containers, none with a port', service: spec({ containers: [{ image: IMAGE }, { image: IMAGE }] }),
    problems: [['spec.template.spec.containers', 'with several containers exactly one must set a port (the serving container), found 0']] },
  { name: 'image reference that does not parse', service: container({ image: 'docker.io/{username}/app' }),
    problems: [[`${C0}.image`, '"docker.io/{username}/app" is not an image reference Knative accepts: repository "{username}/app" may only contain lowercase letters, digits, "_", "-", "." and "/" (2 to 255 characters)']] },
  { name: 'added capability', service: container({ securityContext: { capabilities: { add: ['NET_ADMIN'] } } }),
    problems: [[`${C0}.securityContext.capabilities.add`, "must not be set: Knative's default features (kubernetes.containerspec-addcapabilities: disabled) do not allow adding capabilities, got [NET_ADMIN]"]] },

  // --- volumes (knative/serving pkg/apis/serving/k8s_validation.go)
  { name: 'mount of a missing volume', service: container({ volumeMounts: [{ name: 'data', mountPath: '/data' }] }),
    problems: [[`${C0}.volumeMounts[0].name`, 'no volume named "data" in volumes']] },
  { name: 'two volumes with one name',
    service: spec({ volumes: [{ name: 'data', emptyDir: {} }, { name: 'data', emptyDir: {} }], containers: [{ image: IMAGE, volumeMounts: [{ name: 'data', mountPath: '/data' }] }] }),
    problems: [['spec.template.spec.volumes[1].name', 'duplicate volume name "data" (volume 0 has it too)']] },

  // --- probes: the pod spec schema both front ends share (lib/model/schema/podspec.ts)
  { name: 'probe with an unknown field', service: container({ readinessProbe: { httpGet: { path: '/' }, periodSecond: 3 } }),
    problems: [[`${C0}.readinessProbe.periodSecond`, 'unknown field']] },
  { name: 'probe with a negative period', service: container({ livenessProbe: { tcpSocket: {}, periodSeconds: -1 } }),
    problems: [[`${C0}.livenessProbe.periodSeconds`, 'must be >= 0']] },
  { name: 'probe with two handlers', service: container({ livenessProbe: { httpGet: { path: '/' }, tcpSocket: {} } }),
    problems: [[`${C0}.livenessProbe`, 'must set exactly one of httpGet, tcpSocket, exec, grpc, got httpGet and tcpSocket']] },
  { name: 'liveness probe without a handler', service: container({ livenessProbe: { periodSeconds: 3 } }),
    problems: [[`${C0}.livenessProbe`, 'must set exactly one of httpGet, tcpSocket, exec, grpc, got none']] },
  { name: 'readiness probe without a handler (Knative adds tcpSocket)', service: container({ readinessProbe: { periodSeconds: 3 } }), problems: [] },
  { name: 'probes Knative accepts', service: container({ readinessProbe: { httpGet: { path: '/ready' }, periodSeconds: 1 }, startupProbe: { tcpSocket: {} } }), problems: [] },

  // --- names
  { name: 'service name not a DNS-1035 label (one problem, not two)', service: { metadata: { name: 'Hello' } },
    problems: [['metadata.name', `"Hello" ${DNS1035}`]] },
  { name: 'service name longer than 63', service: { metadata: { name: 'a'.repeat(64) } },
    problems: [['metadata.name', `"${'a'.repeat(64)}" ${DNS1035}`]] },
  { name: 'namespace not a DNS-1123 label', service: { metadata: { name: 'hello', namespace: 'Team_A' } },
    problems: [['metadata.namespace', '"Team_A" must be a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)']] },
  { name: 'revision name without the service prefix', service: { spec: { template: { metadata: { name: 'world-1' } } } },
    problems: [['spec.template.metadata.name', '"world-1" must start with the service name and a dash ("hello-") followed by a suffix']] },
  { name: 'revision name not a DNS-1123 label', service: { spec: { template: { metadata: { name: 'hello-V1' } } } },
    problems: [['spec.template.metadata.name', '"hello-V1" must be a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)']] },

  { name: 'visibility label other than cluster-local', service: { metadata: { name: 'hello', labels: { 'networking.knative.dev/visibility': 'public' } } },
    problems: [['metadata.labels["networking.knative.dev/visibility"]', 'must be cluster-local (omit the label for external visibility)']] },

  // --- traffic (knative/serving pkg/apis/serving/v1/traffic_validation.go)
  { name: 'percents not summing to 100', service: traffic({ latestRevision: true, percent: 60 }, { revisionName: 'hello-00001', percent: 30 }),
    problems: [['spec.traffic', 'percents must sum to 100, got 90']] },
  { name: 'percent above 100', service: traffic({ latestRevision: true, percent: 120 }),
    problems: [['spec.traffic[0].percent', 'must be a whole number from 0 to 100, got 120'], ['spec.traffic', 'percents must sum to 100, got 120']] },
  { name: 'duplicate tags', service: traffic({ latestRevision: true, percent: 100, tag: 'blue' }, { revisionName: 'hello-00001', tag: 'blue' }),
    problems: [['spec.traffic[1].tag', 'duplicate tag "blue" (traffic target 0 has it too)']] },
  { name: 'tag not a DNS-1035 label (one problem, not two)', service: traffic({ latestRevision: true, percent: 100, tag: '1st' }),
    problems: [['spec.traffic[0].tag', `"1st" ${DNS1035}`]] },
  { name: 'tag making the route name too long', service: traffic({ latestRevision: true, percent: 100, tag: `t${'a'.repeat(57)}` }),
    problems: [['spec.traffic[0].tag', `host name "t${'a'.repeat(57)}-hello" would be 64 characters long; at most 63 are allowed`]] },
  // 48 + '-hello' fits the default template; the custom one makes it 65 characters.
  { name: 'tag too long with a custom tag template', service: traffic({ latestRevision: true, percent: 100, tag: 't'.repeat(48) }),
    config: { tagTemplate: '{{.Tag}}-preview-of-{{.Name}}' },
    problems: [['spec.traffic[0].tag', `host name "${'t'.repeat(48)}-preview-of-hello" would be 65 characters long; at most 63 are allowed`]] },
  { name: 'tag template making an invalid host name', service: traffic({ latestRevision: true, percent: 100, tag: 'old' }),
    config: { tagTemplate: '{{.Tag}}.{{.Name}}' },
    problems: [['metadata.name', 'config.tagTemplate (--config): host name "old.hello" is not a DNS-1123 label']] },
  { name: 'traffic to an unknown revision', service: traffic({ latestRevision: true, percent: 50 }, { revisionName: 'hello-00007', percent: 50 }),
    problems: [['spec.traffic[1].revisionName', 'revision "hello-00007" is not known; known revisions: hello-00001']],
    cliSuffix: ' (add it as a Revision document or keep it in --history)' },
  { name: 'revisionName and latestRevision: true', service: traffic({ revisionName: 'hello-00001', latestRevision: true, percent: 100 }),
    problems: [['spec.traffic[0]', 'set either revisionName or latestRevision: true, not both']] },
  { name: 'latestRevision: false without revisionName', service: traffic({ latestRevision: false, percent: 100 }),
    problems: [['spec.traffic[0].latestRevision', 'may only be false when revisionName is set']] },

  // --- data-plane mode (lib/model/data-plane.ts): the template annotation in both front ends
  { name: 'static data plane with min-scale 0', service: annotations({ [DATA_PLANE_ANNOTATION]: 'static' }),
    problems: [[at(DATA_PLANE_ANNOTATION), 'data plane "static" needs min-scale >= 1 (nothing can wake a revision at zero without the activator); revision "hello-00001" has min-scale 0']] },
  { name: 'static data plane with min-scale 1', service: annotations({ [DATA_PLANE_ANNOTATION]: 'static', [`${A}min-scale`]: '1' }), problems: [] },

  // --- other annotations Knative checks
  { name: 'progress-deadline that is not a duration', service: annotations({ 'serving.knative.dev/progress-deadline': 'soon' }),
    problems: [[at('serving.knative.dev/progress-deadline'), 'must be a duration such as 30s, 5m or 1h']] },
  { name: 'http-full-duplex other than Enabled/Disabled', service: annotations({ 'features.knative.dev/http-full-duplex': 'yes' }),
    problems: [[at('features.knative.dev/http-full-duplex'), 'must be Enabled or Disabled']] },
  { name: 'rollout-duration that is not a duration', service: { metadata: { name: 'hello', annotations: { 'serving.knative.dev/rollout-duration': '5 minutes' } } },
    problems: [['metadata.annotations["serving.knative.dev/rollout-duration"]', 'must be a duration such as 30s, 5m or 1h']] },
  { name: 'autoscaling annotation on the Service', service: { metadata: { name: 'hello', annotations: { [`${A}min-scale`]: '1' } } },
    problems: [[`metadata.annotations["${A}min-scale"]`, 'autoscaling annotations must be put under spec.template.metadata.annotations (props: templateAnnotations or autoscaling) to take effect']] },

  // --- autoscaling annotations (knative/serving pkg/apis/autoscaling/annotation_validation.go)
  { name: 'negative min-scale', service: annotations({ [`${A}min-scale`]: '-1' }), problems: [[at(`${A}min-scale`), 'must be at least 0, got -1']] },
  { name: 'max-scale beyond int32 (Kubernetes replicas)', service: annotations({ [`${A}max-scale`]: '2147483648' }), problems: [[at(`${A}max-scale`), 'must be at most 2147483647, got 2147483648']] },
  { name: 'HPA target beyond int32 (averageUtilization)', service: annotations({ [`${A}class`]: 'hpa.autoscaling.knative.dev', [`${A}metric`]: 'cpu', [`${A}target`]: '2147483647.5' }),
    problems: [[at(`${A}target`), 'must be at most 2147483647, got 2147483647.5']] },
  { name: 'negative min-scale under its alias', service: annotations({ [`${A}minScale`]: '-1' }), problems: [[at(`${A}minScale`), 'must be at least 0, got -1']] },
  { name: 'max-scale below min-scale', service: annotations({ [`${A}min-scale`]: '3', [`${A}max-scale`]: '2' }),
    problems: [[at(`${A}max-scale`), 'must be at least min-scale (3)']] },
  { name: 'max-scale below min-scale, both as aliases', service: annotations({ [`${A}minScale`]: '3', [`${A}maxScale`]: '2' }),
    problems: [[at(`${A}maxScale`), 'must be at least min-scale (3)']] },
  { name: 'alias and canonical key together', service: annotations({ [`${A}min-scale`]: '1', [`${A}minScale`]: '2' }),
    problems: [[at(`${A}minScale`), `duplicates ${A}min-scale; give only one of them`]] },
  { name: 'target below 0.01', service: annotations({ [`${A}target`]: '0.001' }), problems: [[at(`${A}target`), 'must be at least 0.01, got 0.001']] },
  { name: 'target utilization above 100', service: annotations({ [`${A}target-utilization-percentage`]: '101' }),
    problems: [[at(`${A}target-utilization-percentage`), 'must be at most 100, got 101']] },
  { name: 'window shorter than 6s', service: annotations({ [`${A}window`]: '5s' }), problems: [[at(`${A}window`), 'must be at least 6s, got 5s']] },
  { name: 'panic threshold below 110', service: annotations({ [`${A}panic-threshold-percentage`]: '100' }),
    problems: [[at(`${A}panic-threshold-percentage`), 'must be at least 110, got 100']] },
  { name: 'activation scale below 2', service: annotations({ [`${A}activation-scale`]: '1' }),
    problems: [[at(`${A}activation-scale`), 'must be at least 2, got 1']] },
  { name: 'unknown knative.dev class', service: annotations({ [`${A}class`]: 'foo.knative.dev' }),
    problems: [[at(`${A}class`), 'must be kpa.autoscaling.knative.dev or hpa.autoscaling.knative.dev']] },
  { name: 'cpu metric with the KPA class', service: annotations({ [`${A}metric`]: 'cpu' }),
    problems: [[at(`${A}metric`), 'must be concurrency or rps for the KPA class']] },
  { name: 'target burst capacity below -1', service: annotations({ [`${A}target-burst-capacity`]: '-2' }),
    problems: [[at(`${A}target-burst-capacity`), 'must be at least -1, got -2']] },
  { name: 'scale-down delay over an hour', service: annotations({ [`${A}scale-down-delay`]: '2h' }),
    problems: [[at(`${A}scale-down-delay`), 'must be at most 3600s, got 7200s']] },
  { name: 'initial scale 0 not allowed', service: annotations({ [`${A}initial-scale`]: '0' }),
    problems: [[at(`${A}initial-scale`), 'must be at least 1 (allow-zero-initial-scale is false)']] },
  { name: 'min-scale that is not a number', service: annotations({ [`${A}min-scale`]: 'two' }),
    problems: [[at(`${A}min-scale`), 'must be an integer, got "two"']] },
  { name: 'bad queue sidecar quantity', service: annotations({ 'queue.sidecar.serving.knative.dev/cpu-resource-request': 'lots' }),
    problems: [[at('queue.sidecar.serving.knative.dev/cpu-resource-request'), 'must be a Kubernetes quantity such as 100m or 256Mi, got "lots"']] },
];

const newDir = workDirs();

/** The CLI's report: [field path, message] per problem, each with a real position in the file. */
async function viaCli(c: Case): Promise<[string, string][]> {
  const dir = newDir({});
  const file = path.join(dir, 'service.yaml');
  writeFileSync(file, stringify(merge(BASE, c.service)));
  const configFile = c.config ? path.join(dir, 'config.yaml') : undefined;
  if (configFile) writeFileSync(configFile, stringify(c.config));
  try {
    await compile({ inputs: [file], configFile }, async () => '');
    return [];
  } catch (error) {
    if (!(error instanceof DiagnosticError)) throw error;
    for (const d of error.diagnostics) expect(d.line, `${d.path}: ${d.message}`).toBeGreaterThan(0);
    return error.diagnostics.map((d) => [d.path, d.message]);
  }
}

/** The constructs' report for the props the CLI builds from the same document and config. */
function viaConstructs(c: Case): [string, string][] {
  const service = parse(stringify(merge(BASE, c.service))) as KnativeService;
  const config = parseConfig('config.yaml', c.config ? stringify(c.config) : '{}\n');
  expect(config.diagnostics).toEqual([]);
  const name = service.metadata.name;
  const current = service.spec.template.metadata?.name ?? Names.revision(name, 1);
  const props = serviceToProps(service, { current, generation: 1, earlier: [] }, config.props);
  try {
    new KService(new Chart(new App(), 'c'), name, props);
    return [];
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return error.problems.map((p) => {
      const { place, message } = documentProblem(p.path, p.message);
      expect(place.in).toBe('service');
      return [formatPath(place.segments), message];
    });
  }
}

const sorted = (problems: readonly (readonly [string, string])[]) => [...problems].map(([p, m]) => `${p}: ${m}`).sort();

describe('both front ends give one message per rule', () => {
  it('covers the rules issue 10 names', () => {
    expect(cases.length).toBeGreaterThanOrEqual(45);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const expected = sorted(c.problems);
    expect(sorted(await viaCli(c)), 'CLI').toEqual(sorted(c.problems.map(([p, m]) => [p, m + (c.cliSuffix ?? '')] as const)));
    expect(sorted(viaConstructs(c)), 'constructs').toEqual(expected);
  });
});

/**
 * The serving config is the other input both front ends take: the CLI's --config file and the
 * constructs' `config` prop. One rule, one message; the CLI reports in the config file, the
 * constructs under `config.`.
 */
const configCases: readonly { name: string; config: Json; problems: readonly (readonly [string, string])[] }[] = [
  { name: 'revision timeout above the maximum', config: { revisionTimeoutSeconds: 900 },
    problems: [['revisionTimeoutSeconds', 'must be at most maxRevisionTimeoutSeconds (600)']] },
  { name: 'tag template with a field Knative does not give it', config: { tagTemplate: '{{.Tag}}-{{.Nme}}' },
    problems: [['tagTemplate', 'unknown template field {{.Nme}}; allowed: {{.Tag}}, {{.Name}}']] },
  { name: 'domain template with a field Knative does not give it', config: { domainTemplate: '{{.Name}}.{{.Cluster}}' },
    problems: [['domainTemplate', 'unknown template field {{.Cluster}}; allowed: {{.Name}}, {{.Namespace}}, {{.Domain}}, {{.Annotations}}, {{.Labels}}']] },
  { name: 'autoscaler max-scale above max-scale-limit', config: { autoscaler: { maxScale: 20, maxScaleLimit: 10 } },
    problems: [['autoscaler.maxScale', 'must be at most maxScaleLimit (10)']] },
  { name: 'autoscaler min-scale above max-scale', config: { autoscaler: { minScale: 5, maxScale: 2 } },
    problems: [['autoscaler.minScale', 'must be at most maxScale (2)']] },
  { name: 'queue sidecar resource that is not a quantity', config: { queueSidecarResources: { memoryLimit: '1 GB' } },
    problems: [['queueSidecarResources.memoryLimit', 'must be a Kubernetes quantity such as 25m or 800Mi, or \'\' for none, got "1 GB"']] },
  { name: 'domain that is not a DNS name', config: { domain: 'Example.COM' }, problems: [['domain', 'must be a DNS domain such as example.com']] },
  { name: 'Istio gateway that is not NAMESPACE/NAME', config: { externalGateway: 'knative-ingress-gateway' },
    problems: [['externalGateway', 'must be NAMESPACE/NAME of an Istio Gateway']] },
  { name: 'unknown ingress', config: { ingress: 'contour' }, problems: [['ingress', 'must be one of istio, gateway-api, got "contour"']] },
  { name: 'Gateway API listener port out of range', config: { ingress: 'gateway-api', gatewayApi: { listenerPort: 0 } },
    problems: [['gatewayApi.listenerPort', 'must be a port number (1-65535), got 0']] },
  { name: 'GatewayClass name that is not a DNS name', config: { ingress: 'gateway-api', gatewayApi: { gatewayClassName: 'My Class' } },
    problems: [['gatewayApi.gatewayClassName', 'must be a GatewayClass name such as istio']] },
  { name: 'container concurrency default above 1000', config: { containerConcurrency: 5000 },
    problems: [['containerConcurrency', 'must be a whole number from 0 to 1000, got 5000']] },
  { name: 'autoscaler stable window below 6s', config: { autoscaler: { stableWindowSeconds: 2 } },
    problems: [['autoscaler.stableWindowSeconds', 'must be a whole number from 6 to 3600, got 2']] },
  { name: 'autoscaler max scale-up rate of 1', config: { autoscaler: { maxScaleUpRate: 1 } },
    problems: [['autoscaler.maxScaleUpRate', 'must be a number above 1, got 1']] },
  { name: 'a config both accept', config: { domain: 'example.org', tagTemplate: '{{.Name}}-{{.Tag}}', autoscaler: { minScale: 1, maxScale: 3 } }, problems: [] },
];

describe('both front ends give one message per serving config rule', () => {
  it.each(configCases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dir = newDir({});
    const file = path.join(dir, 'service.yaml');
    const configFile = path.join(dir, 'config.yaml');
    writeFileSync(file, stringify(BASE));
    writeFileSync(configFile, stringify(c.config));
    const cli = await compile({ inputs: [file], configFile }, async () => '').then(
      () => [],
      (error: unknown) => {
        if (!(error instanceof DiagnosticError)) throw error;
        for (const d of error.diagnostics) expect(d.file, d.message).toBe(configFile);
        return error.diagnostics.map((d) => [d.path, d.message] as const);
      },
    );
    const expected = sorted(c.problems);
    expect(sorted(cli), 'CLI').toEqual(expected);

    const props = serviceToProps(BASE as unknown as KnativeService, { current: 'hello-00001', generation: 1, earlier: [] }, c.config);
    let constructs: (readonly [string, string])[] = [];
    try {
      new KService(new Chart(new App(), 'c'), 'hello', props);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      constructs = error.problems.map((p) => [p.path.replace(/^config\./, ''), p.message] as const);
    }
    expect(sorted(constructs), 'constructs').toEqual(expected);
  });
});

/**
 * Quantities (issue 17): both front ends write every user quantity as Knative writes it and the
 * API server stores it (resource.Quantity's canonical form), so a GitOps engine comparing Git
 * with the live objects sees no difference. The document is YAML text: `cpu: 1` reaches the CLI
 * as a YAML number and the constructs (through knative-to-props) as a JavaScript number.
 */
describe('both front ends write quantities in canonical form', () => {
  const document = [
    'apiVersion: serving.knative.dev/v1',
    'kind: Service',
    'metadata:',
    '  name: hello',
    'spec:',
    '  template:',
    '    metadata:',
    '      annotations:',
    '        queue.sidecar.serving.knative.dev/cpu-resource-request: "0.05"',
    '        queue.sidecar.serving.knative.dev/memory-resource-limit: 1024Mi',
    '    spec:',
    '      containers:',
    `        - image: ${IMAGE}`,
    '          resources:',
    '            requests: { cpu: 1, memory: 1024Mi, ephemeral-storage: 1.5Gi }',
    '            limits: { cpu: 1000m, memory: 0.5Gi, hugepages-2Mi: 2048Mi }',
    '          env:',
    '            - name: MEMORY_MB',
    '              valueFrom: { resourceFieldRef: { resource: limits.memory, divisor: 1024Ki } }',
    '          volumeMounts: [{ name: scratch, mountPath: /scratch }]',
    '      volumes:',
    '        - name: scratch',
    '          emptyDir: { sizeLimit: 0.5Gi }',
    '',
  ].join('\n');
  const config = { queueSidecarResources: { cpuLimit: '1000m' } };

  /** The quantities of the revision's Deployment, wherever they are. */
  const quantities = (deployment: any) => {
    const spec = deployment.spec.template.spec;
    const of = (name: string) => spec.containers.find((c: any) => c.name === name);
    return {
      user: of('user-container').resources,
      divisor: of('user-container').env.find((e: any) => e.name === 'MEMORY_MB').valueFrom.resourceFieldRef.divisor,
      sizeLimit: spec.volumes[0].emptyDir.sizeLimit,
      queueProxy: of('queue-proxy').resources,
    };
  };
  const expected = {
    user: { requests: { cpu: '1', memory: '1Gi', 'ephemeral-storage': '1536Mi' }, limits: { cpu: '1', memory: '512Mi', 'hugepages-2Mi': '2Gi' } },
    divisor: '1Mi',
    sizeLimit: '512Mi',
    queueProxy: { requests: { cpu: '50m', memory: '400Mi' }, limits: { cpu: '1', memory: '1Gi' } },
  };
  const isDeployment = (o: any) => o?.kind === 'Deployment' && o.metadata.name === Names.deployment('hello-00001');

  it('the CLI', async () => {
    const dir = newDir({});
    const file = path.join(dir, 'service.yaml');
    const configFile = path.join(dir, 'config.yaml');
    writeFileSync(file, document);
    writeFileSync(configFile, stringify(config));
    const { files } = await compile({ inputs: [file], configFile }, async () => '');
    const deployment = files.flatMap((f) => f.documents.map((d) => parse(d))).find(isDeployment);
    expect(quantities(deployment)).toEqual(expected);
  });

  it('the constructs', () => {
    const service = parse(document) as KnativeService;
    const props = serviceToProps(service, { current: 'hello-00001', generation: 1, earlier: [] }, config);
    expect((props.containers?.[0].resources?.requests as Json).cpu).toBe(1);
    const chart = new Chart(new App(), 'c');
    new KService(chart, 'hello', props);
    expect(quantities(chart.toJson().find(isDeployment))).toEqual(expected);
  });
});
