/**
 * Bad input, table-driven: each case states the exact report (file:line:col path: message), the
 * exit code, and that nothing was written (no output directory, history file untouched).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HELLO, removeDir, run, tempDir } from './helpers';

interface Case {
  readonly name: string;
  readonly files: Record<string, string | Uint8Array>;
  /** Arguments after `compile`; names of `files` are resolved inside the case's directory. */
  readonly args?: readonly string[];
  /** Full argv instead of `compile ... -o out`, for usage errors. */
  readonly argv?: readonly string[];
  readonly stderr: readonly string[];
  readonly code?: number;
}

/** HELLO with extra lines under `spec.template.spec.containers[0]` (indent 10). */
function helloWith(containerLines: string): string {
  return `${HELLO}${containerLines}`;
}

/** A service with template annotations (line 8 onwards). */
function annotated(...lines: string[]): string {
  return `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
spec:
  template:
    metadata:
      annotations:
${lines.map((l) => `        ${l}`).join('\n')}
    spec:
      containers:
        - image: ghcr.io/example/hello:1
`;
}

/** HELLO plus a traffic block (traffic starts on line 10). */
function withTraffic(...lines: string[]): string {
  return `${HELLO}  traffic:\n${lines.map((l) => `    ${l}`).join('\n')}\n`;
}

/**
 * A DomainMapping in namespace store (metadata.name on line 4, spec.ref from line 7) to the Service
 * `ref` names; by default the plain Kubernetes Service shop, which Knative resolves without it being
 * in the input, so what Knative decides is about the mapping alone.
 */
function mapping(domain: string, ...refLines: string[]): string {
  return `apiVersion: serving.knative.dev/v1beta1
kind: DomainMapping
metadata:
  name: ${domain}
  namespace: store
spec:
  ref:
${(refLines.length > 0 ? refLines : ['apiVersion: v1', 'kind: Service', 'name: shop']).map((l) => `    ${l}`).join('\n')}
`;
}

const CHANGED = HELLO.replace('hello:1', 'hello:2');

/** A "billion laughs" document: each level multiplies the one before it by nine. */
const LAUGHS = [
  'a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]',
  'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
  'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
  'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
  '',
].join('\n');

const cases: Case[] = [
  // --- YAML syntax
  { name: 'unterminated flow sequence', files: { 'hello.yaml': 'a: 1\nb: [1, 2\n' },
    stderr: ['hello.yaml:3:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]'] },
  { name: 'duplicate key', files: { 'hello.yaml': HELLO.replace('  name: hello\n', '  name: hello\n  name: again\n') },
    stderr: ['hello.yaml:5:3: YAML syntax error: Map keys must be unique'] },
  { name: 'tab indentation', files: { 'hello.yaml': 'a:\n\t- b\n' },
    stderr: ['hello.yaml:2:1: YAML syntax error: Tabs are not allowed as indentation'] },

  // --- encodings and aliases: positioned errors, never a garbage document or an internal error
  { name: 'UTF-16 without a byte-order mark', files: { 'hello.yaml': Buffer.from(HELLO, 'utf16le') },
    stderr: ['hello.yaml:1:2: is not UTF-8 text: it holds a NUL byte (UTF-16 or UTF-32 without a byte-order mark?); save it as UTF-8'] },
  { name: 'UTF-32 with its byte-order mark', files: { 'hello.yaml': Buffer.from([0xff, 0xfe, 0, 0, 0x61, 0, 0, 0]) },
    stderr: ['hello.yaml:1:1: is not UTF-8: it is UTF-32LE (byte-order mark); save it as UTF-8'] },
  { name: 'Latin-1 byte in a UTF-8 file', files: { 'hello.yaml': Buffer.from(HELLO.replace('name: hello\n', 'name: hello\n  annotations:\n    note: caf\u00e9\n'), 'latin1') },
    stderr: ['hello.yaml:6:14: is not UTF-8 (byte 0xe9 here cannot start or continue a character); save it as UTF-8'] },
  { name: 'UTF-16 with a byte-order mark but an odd length', files: { 'hello.yaml': Buffer.from([0xfe, 0xff, 0, 0x61, 0]) },
    stderr: ['hello.yaml:1:1: is not UTF-8, and not valid UTF-16BE either (its byte-order mark says so); save it as UTF-8'] },
  { name: 'billion laughs', files: { 'hello.yaml': LAUGHS },
    stderr: ['hello.yaml:3:8: YAML aliases expand to too many nodes (more than 100 expansions; a "billion laughs" document?)'] },
  { name: 'alias without an anchor', files: { 'hello.yaml': HELLO.replace('name: hello', 'name: *hello') },
    stderr: ['hello.yaml:4:9: YAML alias *hello has no anchor &hello before it'] },
  { name: 'alias inside the node it refers to', files: { 'hello.yaml': `${HELLO}  traffic: &t [*t]\n` },
    stderr: ['hello.yaml:10:16: YAML alias *t is inside the node it refers to (the value would be endless)'] },
  { name: 'billion laughs in the config file', files: { 'hello.yaml': HELLO, 'config.yaml': LAUGHS },
    args: ['hello.yaml', '--config', 'config.yaml'],
    stderr: ['config.yaml:3:8: YAML aliases expand to too many nodes (more than 100 expansions; a "billion laughs" document?)'] },

  // --- schema: types, unknown fields, required fields
  { name: 'percent of the wrong type', files: { 'hello.yaml': withTraffic('- percent: "all"') },
    // The schema failed, so the cross-field rules (percent sum) do not pile on.
    stderr: ['hello.yaml:11:16 spec.traffic[0].percent: must be an integer'] },
  { name: 'unknown container field', files: { 'hello.yaml': helloWith('          hostPort: 80\n') },
    stderr: ['hello.yaml:10:11 spec.template.spec.containers[0].hostPort: unknown field'] },
  { name: 'unknown top-level field', files: { 'hello.yaml': `${HELLO}status: {}\n` },
    stderr: ['hello.yaml:10:1 status: unknown field'] },
  { name: 'missing image', files: { 'hello.yaml': HELLO.replace('- image: ghcr.io/example/hello:1', '- name: app') },
    stderr: ['hello.yaml:9:11 spec.template.spec.containers[0].image: required field is missing'] },
  { name: 'missing template', files: { 'hello.yaml': 'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: hello\nspec: {}\n' },
    stderr: ['hello.yaml:5:7 spec.template: required field is missing'] },
  { name: 'no containers', files: { 'hello.yaml': HELLO.replace('      containers:\n        - image: ghcr.io/example/hello:1\n', '      containers: []\n') },
    stderr: ['hello.yaml:8:19 spec.template.spec.containers: must have at least 1 item'] },
  { name: 'reserved port', files: { 'hello.yaml': helloWith('          ports:\n            - containerPort: 8012\n') },
    stderr: ['hello.yaml:11:30 spec.template.spec.containers[0].ports[0].containerPort: port 8012 is reserved (queue-proxy and the runtime use 8012, 8013, 8022, 9090, 9091, 8008, 8112)'] },
  { name: 'unknown port name', files: { 'hello.yaml': helloWith('          ports:\n            - name: grpc\n              containerPort: 9000\n') },
    stderr: ['hello.yaml:11:21 spec.template.spec.containers[0].ports[0].name: must be "http1" or "h2c", got "grpc"'] },
  { name: 'two ports', files: { 'hello.yaml': helloWith('          ports:\n            - containerPort: 8080\n            - containerPort: 8081\n') },
    stderr: ['hello.yaml:11:13 spec.template.spec.containers[0].ports: a container may declare at most one port'] },
  { name: 'reserved environment variable', files: { 'hello.yaml': helloWith('          env:\n            - name: PORT\n              value: "1"\n') },
    stderr: ['hello.yaml:11:21 spec.template.spec.containers[0].env[0].name: PORT is reserved (set by the platform)'] },
  { name: 'containerConcurrency out of range', files: { 'hello.yaml': `${HELLO}      containerConcurrency: 1001\n` },
    stderr: ['hello.yaml:10:29 spec.template.spec.containerConcurrency: must be a whole number from 0 to 1000, got 1001'] },
  { name: 'negative timeout', files: { 'hello.yaml': `${HELLO}      timeoutSeconds: -1\n` },
    stderr: ['hello.yaml:10:23 spec.template.spec.timeoutSeconds: must be >= 0'] },
  { name: 'service name not a DNS label', files: { 'hello.yaml': HELLO.replace('name: hello', 'name: Hello') },
    stderr: ['hello.yaml:4:9 metadata.name: "Hello" must be a DNS-1035 label: lowercase letters, digits and "-", starting with a letter, at most 63 characters'] },
  { name: 'service name too long', files: { 'hello.yaml': HELLO.replace('name: hello', `name: ${'a'.repeat(64)}`) },
    stderr: [`hello.yaml:4:9 metadata.name: "${'a'.repeat(64)}" must be a DNS-1035 label: lowercase letters, digits and "-", starting with a letter, at most 63 characters`] },
  { name: 'tag not a DNS-1035 label', files: { 'hello.yaml': withTraffic('- percent: 100', '  tag: 1st') },
    stderr: ['hello.yaml:12:12 spec.traffic[0].tag: "1st" must be a DNS-1035 label: lowercase letters, digits and "-", starting with a letter, at most 63 characters'] },
  { name: 'visibility label with another value', files: { 'hello.yaml': HELLO.replace('  name: hello\n', '  name: hello\n  labels:\n    networking.knative.dev/visibility: public\n') },
    stderr: ['hello.yaml:6:40 metadata.labels["networking.knative.dev/visibility"]: must be cluster-local (omit the label for external visibility)'] },

  // --- annotations (knative/serving pkg/apis/autoscaling/annotation_validation.go)
  { name: 'unquoted annotation value', files: { 'hello.yaml': annotated('autoscaling.knative.dev/min-scale: 1') },
    stderr: ['hello.yaml:9:44 spec.template.metadata.annotations["autoscaling.knative.dev/min-scale"]: must be a string (quote it: "1")'] },
  { name: 'negative min-scale', files: { 'hello.yaml': annotated('autoscaling.knative.dev/min-scale: "-1"') },
    stderr: ['hello.yaml:9:44 spec.template.metadata.annotations["autoscaling.knative.dev/min-scale"]: must be at least 0, got -1'] },
  { name: 'target below 0.01', files: { 'hello.yaml': annotated('autoscaling.knative.dev/target: "0.001"') },
    stderr: ['hello.yaml:9:41 spec.template.metadata.annotations["autoscaling.knative.dev/target"]: must be at least 0.01, got 0.001'] },
  { name: 'target utilization above 100', files: { 'hello.yaml': annotated('autoscaling.knative.dev/target-utilization-percentage: "101"') },
    stderr: ['hello.yaml:9:64 spec.template.metadata.annotations["autoscaling.knative.dev/target-utilization-percentage"]: must be at most 100, got 101'] },
  { name: 'window shorter than 6s', files: { 'hello.yaml': annotated('autoscaling.knative.dev/window: "5s"') },
    stderr: ['hello.yaml:9:41 spec.template.metadata.annotations["autoscaling.knative.dev/window"]: must be at least 6s, got 5s'] },
  { name: 'panic threshold below 110', files: { 'hello.yaml': annotated('autoscaling.knative.dev/panic-threshold-percentage: "100"') },
    stderr: ['hello.yaml:9:61 spec.template.metadata.annotations["autoscaling.knative.dev/panic-threshold-percentage"]: must be at least 110, got 100'] },
  { name: 'activation scale below 2', files: { 'hello.yaml': annotated('autoscaling.knative.dev/activation-scale: "1"') },
    stderr: ['hello.yaml:9:51 spec.template.metadata.annotations["autoscaling.knative.dev/activation-scale"]: must be at least 2, got 1'] },
  { name: 'unknown knative.dev class', files: { 'hello.yaml': annotated('autoscaling.knative.dev/class: foo.knative.dev') },
    stderr: ['hello.yaml:9:40 spec.template.metadata.annotations["autoscaling.knative.dev/class"]: must be kpa.autoscaling.knative.dev or hpa.autoscaling.knative.dev'] },
  { name: 'cpu metric with the KPA class', files: { 'hello.yaml': annotated('autoscaling.knative.dev/metric: cpu') },
    stderr: ['hello.yaml:9:41 spec.template.metadata.annotations["autoscaling.knative.dev/metric"]: must be concurrency or rps for the KPA class'] },
  { name: 'max-scale below min-scale', files: { 'hello.yaml': annotated('autoscaling.knative.dev/min-scale: "3"', 'autoscaling.knative.dev/max-scale: "2"') },
    stderr: ['hello.yaml:10:44 spec.template.metadata.annotations["autoscaling.knative.dev/max-scale"]: must be at least min-scale (3)'] },
  { name: 'alias and canonical key together', files: { 'hello.yaml': annotated('autoscaling.knative.dev/min-scale: "1"', 'autoscaling.knative.dev/minScale: "2"') },
    stderr: ['hello.yaml:10:43 spec.template.metadata.annotations["autoscaling.knative.dev/minScale"]: duplicates autoscaling.knative.dev/min-scale; give only one of them'] },
  { name: 'autoscaling annotation on the Service', files: { 'hello.yaml': HELLO.replace('  name: hello\n', '  name: hello\n  annotations:\n    autoscaling.knative.dev/min-scale: "1"\n') },
    stderr: ['hello.yaml:6:40 metadata.annotations["autoscaling.knative.dev/min-scale"]: autoscaling annotations must be put under spec.template.metadata.annotations (props: templateAnnotations or autoscaling) to take effect'] },
  { name: 'target burst capacity below -1', files: { 'hello.yaml': annotated('autoscaling.knative.dev/target-burst-capacity: "-2"') },
    stderr: ['hello.yaml:9:56 spec.template.metadata.annotations["autoscaling.knative.dev/target-burst-capacity"]: must be at least -1, got -2'] },
  { name: 'scale-down delay over an hour', files: { 'hello.yaml': annotated('autoscaling.knative.dev/scale-down-delay: "2h"') },
    stderr: ['hello.yaml:9:51 spec.template.metadata.annotations["autoscaling.knative.dev/scale-down-delay"]: must be at most 3600s, got 7200s'] },
  { name: 'initial scale 0 not allowed', files: { 'hello.yaml': annotated('autoscaling.knative.dev/initial-scale: "0"') },
    stderr: ['hello.yaml:9:48 spec.template.metadata.annotations["autoscaling.knative.dev/initial-scale"]: must be at least 1 (allow-zero-initial-scale is false)'] },
  { name: 'bad queue sidecar quantity', files: { 'hello.yaml': annotated('queue.sidecar.serving.knative.dev/cpu-resource-request: lots') },
    stderr: ['hello.yaml:9:65 spec.template.metadata.annotations["queue.sidecar.serving.knative.dev/cpu-resource-request"]: must be a Kubernetes quantity such as 100m or 256Mi, got "lots"'] },

  // --- Knative's cross-field rules
  { name: 'percents not summing to 100', files: { 'hello.yaml': withTraffic('- percent: 60', '- percent: 30', '  revisionName: hello-00001') },
    stderr: ['hello.yaml:11:5 spec.traffic: percents must sum to 100, got 90'] },
  { name: 'duplicate tags', files: { 'hello.yaml': withTraffic('- percent: 100', '  tag: blue', '- revisionName: hello-00001', '  tag: blue') },
    stderr: ['hello.yaml:14:12 spec.traffic[1].tag: duplicate tag "blue" (traffic target 0 has it too)'] },
  { name: 'latestRevision with revisionName', files: { 'hello.yaml': withTraffic('- percent: 100', '  revisionName: hello-00001', '  latestRevision: true') },
    stderr: ['hello.yaml:11:7 spec.traffic[0]: set either revisionName or latestRevision: true, not both'] },
  { name: 'configurationName in a Service', files: { 'hello.yaml': withTraffic('- percent: 100', '  configurationName: hello') },
    stderr: ['hello.yaml:12:7 spec.traffic[0].configurationName: is not allowed in a Service (its configuration is implied); use latestRevision: true'] },
  { name: 'BYO name without the service prefix', files: { 'hello.yaml': HELLO.replace('  template:\n', '  template:\n    metadata:\n      name: world-1\n') },
    stderr: ['hello.yaml:8:13 spec.template.metadata.name: "world-1" must start with the service name and a dash ("hello-") followed by a suffix'] },
  { name: 'tag making the route name too long', files: { 'hello.yaml': withTraffic('- percent: 100', `  tag: t${'a'.repeat(57)}`) },
    stderr: [`hello.yaml:12:12 spec.traffic[0].tag: host name "t${'a'.repeat(57)}-hello" would be 64 characters long; at most 63 are allowed`] },
  { name: 'several containers, none with a port', files: { 'hello.yaml': helloWith('        - image: ghcr.io/example/sidecar:1\n') },
    stderr: ['hello.yaml:9:9 spec.template.spec.containers: with several containers exactly one must set a port (the serving container), found 0'] },
  { name: 'mount of a missing volume', files: { 'hello.yaml': helloWith('          volumeMounts:\n            - name: data\n              mountPath: /data\n') },
    stderr: ['hello.yaml:11:21 spec.template.spec.containers[0].volumeMounts[0].name: no volume named "data" in volumes'] },
  { name: 'duplicate container names', files: { 'hello.yaml': helloWith('          name: app\n          ports:\n            - containerPort: 8080\n        - image: ghcr.io/example/sidecar:1\n          name: app\n') },
    stderr: ['hello.yaml:14:17 spec.template.spec.containers[1].name: duplicate container name "app"'] },
  { name: 'image reference that does not parse', files: { 'hello.yaml': HELLO.replace('ghcr.io/example/hello:1', 'docker.io/{username}/app') },
    stderr: ['hello.yaml:9:18 spec.template.spec.containers[0].image: "docker.io/{username}/app" is not an image reference Knative accepts: repository "{username}/app" may only contain lowercase letters, digits, "_", "-", "." and "/" (2 to 255 characters)'] },
  { name: 'added capability (Knative\'s default features forbid it)', files: { 'hello.yaml': helloWith('          securityContext:\n            capabilities:\n              add: [NET_ADMIN]\n') },
    stderr: ['hello.yaml:12:20 spec.template.spec.containers[0].securityContext.capabilities.add: must not be set: Knative\'s default features (kubernetes.containerspec-addcapabilities: disabled) do not allow adding capabilities, got [NET_ADMIN]'] },
  { name: 'timeout above the maximum', files: { 'hello.yaml': `${HELLO}      timeoutSeconds: 601\n` },
    stderr: ['hello.yaml:10:23 spec.template.spec.timeoutSeconds: must be between 0 and 600 (max-revision-timeout-seconds), got 601'] },
  { name: 'unknown revision in traffic', files: { 'hello.yaml': withTraffic('- percent: 50', '- percent: 50', '  revisionName: hello-00007') },
    stderr: ['hello.yaml:13:21 spec.traffic[1].revisionName: revision "hello-00007" is not known; known revisions: hello-00001 (add it as a Revision document or keep it in --history)'] },
  { name: 'the same Service twice', files: { 'a.yaml': HELLO, 'b.yaml': HELLO }, args: ['a.yaml', 'b.yaml'],
    stderr: ['b.yaml:4:9 metadata.name: Service default/hello is already defined at a.yaml:1:1'] },
  { name: 'Revision of a Service not in the input', files: { 'hello.yaml': `${HELLO}---\napiVersion: serving.knative.dev/v1\nkind: Revision\nmetadata:\n  name: world-00001\n  labels:\n    serving.knative.dev/service: world\nspec:\n  containers:\n    - image: ghcr.io/example/world:1\n` },
    stderr: ['hello.yaml:16:5 metadata.labels: names Service default/world, which is not in the input'] },
  // A routed Revision document is parsed once, as the service's revisions[i]: its problems are
  // reported where they are, the traffic target still finds it, and the service's own problems
  // are reported in the same run.
  { name: 'routed Revision document with a bad field', files: { 'hello.yaml': `apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: hello\nspec:\n  template:\n    metadata:\n      annotations:\n        autoscaling.knative.dev/min-scale: "-1"\n    spec:\n      containers:\n        - image: ghcr.io/example/hello:2\n  traffic:\n    - latestRevision: true\n      percent: 50\n    - revisionName: hello-00002\n      percent: 50\n---\napiVersion: serving.knative.dev/v1\nkind: Revision\nmetadata:\n  name: hello-00002\n  labels:\n    serving.knative.dev/service: hello\nspec:\n  containerConcurrency: 5000\n  containers:\n    - image: ghcr.io/example/hello:1\n` },
    stderr: [
      'hello.yaml:9:44 spec.template.metadata.annotations["autoscaling.knative.dev/min-scale"]: must be at least 0, got -1',
      'hello.yaml:26:25 spec.containerConcurrency: must be a whole number from 0 to 1000, got 5000',
    ] },
  { name: 'unrouted Revision document with a bad field', files: { 'hello.yaml': `${HELLO}---\napiVersion: serving.knative.dev/v1\nkind: Revision\nmetadata:\n  name: hello-00002\n  labels:\n    serving.knative.dev/service: hello\nspec:\n  containerConcurrency: 5000\n  containers:\n    - image: ghcr.io/example/hello:1\n` },
    stderr: ['hello.yaml:18:25 spec.containerConcurrency: must be a whole number from 0 to 1000, got 5000'] },

  // --- config file
  { name: 'config with an unknown field and a bad domain',
    files: { 'hello.yaml': HELLO, 'config.yaml': 'domain: Example.COM\nruntimeImages: x\n' }, args: ['hello.yaml', '--config', 'config.yaml'],
    stderr: ['config.yaml:1:9 domain: must be a DNS domain such as example.com', 'config.yaml:2:1 runtimeImages: unknown field'] },
  { name: 'config with an unknown template field and timeouts out of order',
    files: { 'hello.yaml': HELLO, 'config.yaml': 'domainTemplate: "{{.Name}}.{{.Cluster}}"\nrevisionTimeoutSeconds: 900\n' }, args: ['hello.yaml', '--config', 'config.yaml'],
    stderr: ['config.yaml:1:17 domainTemplate: unknown template field {{.Cluster}}; allowed: {{.Name}}, {{.Namespace}}, {{.Domain}}, {{.Annotations}}, {{.Labels}}',
      'config.yaml:2:25 revisionTimeoutSeconds: must be at most maxRevisionTimeoutSeconds (600)'] },
  { name: 'config with a bad tag template and a tagged service (no cascade)',
    files: { 'hello.yaml': withTraffic('- percent: 100', '  tag: old'), 'config.yaml': 'tagTemplate: "{{.Tag}}-{{.Nme}}"\n' },
    args: ['hello.yaml', '--config', 'config.yaml'],
    stderr: ['config.yaml:1:14 tagTemplate: unknown template field {{.Nme}}; allowed: {{.Tag}}, {{.Name}}'] },
  { name: 'config that is not YAML', files: { 'hello.yaml': HELLO, 'config.yaml': 'domain: [\n' }, args: ['hello.yaml', '--config', 'config.yaml'],
    stderr: ['config.yaml:2:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]'] },
  { name: 'config file missing', files: { 'hello.yaml': HELLO }, args: ['hello.yaml', '--config', 'nope.yaml'],
    stderr: ['nope.yaml: no such file or directory'] },

  // --- history file
  { name: 'history of the wrong kind, missing services',
    files: { 'hello.yaml': HELLO, 'history.yaml': 'apiVersion: kservice.cdk8s.io/v1alpha1\nkind: History\n' }, args: ['hello.yaml', '--history', 'history.yaml'],
    stderr: ['history.yaml:1:1 services: required field is missing', 'history.yaml:2:7 kind: must be "RevisionHistory"'] },
  { name: 'history whose generations go down',
    files: { 'hello.yaml': HELLO, 'history.yaml': `apiVersion: kservice.cdk8s.io/v1alpha1
kind: RevisionHistory
services:
  - namespace: default
    name: hello
    generation: 2
    revisions:
      - name: hello-00002
        generation: 2
        template: { spec: { containers: [{ image: a }] } }
      - name: hello-00001
        generation: 1
        template: { spec: { containers: [{ image: b }] } }
` }, args: ['hello.yaml', '--history', 'history.yaml'],
    stderr: ["history.yaml:12:21 services[0].revisions[1].generation: must be greater than the previous revision's generation (2)"] },
  { name: 'BYO name reused for a changed template',
    files: {
      'hello.yaml': HELLO.replace('  template:\n', '  template:\n    metadata:\n      name: hello-v1\n'),
      'history.yaml': `apiVersion: kservice.cdk8s.io/v1alpha1
kind: RevisionHistory
services:
  - namespace: default
    name: hello
    generation: 1
    revisions:
      - name: hello-v1
        generation: 1
        template: { metadata: { name: hello-v1 }, spec: { containers: [{ image: ghcr.io/example/hello:0 }] } }
`,
    }, args: ['hello.yaml', '--history', 'history.yaml'],
    stderr: ['hello.yaml:8:13 spec.template.metadata.name: revision "hello-v1" already exists in the history with a different template; give the changed template a new name'] },

  // --- problems found by the constructs, mapped back to where they came from
  { name: 'hand-edited history rejected by the constructs',
    files: {
      'hello.yaml': withTraffic('- revisionName: hello-00001', '  percent: 100').replace('hello:1', 'hello:2'),
      'history.yaml': `apiVersion: kservice.cdk8s.io/v1alpha1
kind: RevisionHistory
services:
  - namespace: default
    name: hello
    generation: 1
    revisions:
      - name: hello-00001
        generation: 1
        template:
          spec:
            containerConcurrency: 5000
            containers:
              - image: ghcr.io/example/hello:1
`,
    }, args: ['hello.yaml', '--history', 'history.yaml'],
    stderr: ['history.yaml:12:35 services[0].revisions[0].template.spec.containerConcurrency: must be a whole number from 0 to 1000, got 5000'] },
  { name: 'tag template making an invalid host name',
    files: { 'hello.yaml': withTraffic('- percent: 100', '  tag: old'), 'config.yaml': 'tagTemplate: "{{.Tag}}.{{.Name}}"\n' },
    args: ['hello.yaml', '--config', 'config.yaml'],
    stderr: ['hello.yaml:4:9 metadata.name: config.tagTemplate (--config): host name "old.hello" is not a DNS-1123 label'] },

  // --- inputs and output directory
  { name: 'missing input file', files: { 'hello.yaml': HELLO }, args: ['hello.yaml', 'missing.yaml'],
    stderr: ['missing.yaml: no such file or directory'] },
  { name: 'a directory as the history file', files: { 'hello.yaml': HELLO, 'h.yaml/x': '' }, args: ['hello.yaml', '--history', 'h.yaml'],
    stderr: ['h.yaml: is a directory, not a file'] },
  { name: 'directory without YAML', files: { 'empty/readme.txt': 'hi' }, args: ['empty'],
    stderr: ['empty: directory holds no *.yaml or *.yml files'] },
  { name: 'errors in two files are reported together', files: { 'a.yaml': withTraffic('- percent: 99'), 'b.yaml': CHANGED.replace('name: hello', 'name: b').replace('image: ', 'imag: ') },
    args: ['a.yaml', 'b.yaml'],
    stderr: ['a.yaml:11:5 spec.traffic: percents must sum to 100, got 99',
      'b.yaml:9:11 spec.template.spec.containers[0].imag: unknown field',
      'b.yaml:9:11 spec.template.spec.containers[0].image: required field is missing'] },

  { name: 'two services that would share an output file', files: {
    'a.yaml': HELLO.replace('name: hello', 'name: c\n  namespace: a-b'),
    'b.yaml': HELLO.replace('name: hello', 'name: b-c\n  namespace: a'),
  }, args: ['a.yaml', 'b.yaml'],
    stderr: ["a.yaml:4:9 metadata.name: its output file a-b-c.yaml is also another service's; rename one of them"] },

  // --- DomainMapping (knative/serving pkg/apis/serving/v1beta1/domainmapping_validation.go, KReference.Validate)
  { name: 'domain mapping name of one label', files: { 'dm.yaml': mapping('shop') },
    stderr: ['dm.yaml:4:9 metadata.name: invalid name "shop": should be a domain with at least two segments separated by dots'] },
  { name: 'domain mapping name not a domain', files: { 'dm.yaml': mapping('Shop.example.org') },
    stderr: ['dm.yaml:4:9 metadata.name: invalid name "Shop.example.org": must be a domain name of lower-case letters, digits, "-" and ".", at most 253 characters'] },
  { name: 'domain mapping under the cluster-local domain', files: { 'dm.yaml': mapping('shop.store.svc.cluster.local') },
    stderr: ['dm.yaml:4:9 metadata.name: invalid name "shop.store.svc.cluster.local": must not be a subdomain of cluster local domain "cluster.local"'] },
  { name: 'domain mapping ref in another namespace', files: { 'dm.yaml': mapping('shop.example.org', 'apiVersion: serving.knative.dev/v1', 'kind: Service', 'name: shop', 'namespace: other') },
    stderr: ['dm.yaml:11:16 spec.ref.namespace: mismatched namespaces: must be the DomainMapping\'s namespace "store", got "other"'] },
  { name: 'domain mapping ref to a kind that cannot be resolved', files: { 'dm.yaml': mapping('shop.example.org', 'apiVersion: apps/v1', 'kind: Deployment', 'name: shop') },
    stderr: ['dm.yaml:9:11 spec.ref.kind: must name a Knative Service (serving.knative.dev/v1 Service) or a Kubernetes Service (v1 Service), got apps/v1 Deployment'] },
  { name: 'domain mapping ref without a name', files: { 'dm.yaml': mapping('shop.example.org', 'apiVersion: serving.knative.dev/v1', 'kind: Service') },
    stderr: ['dm.yaml:8:5 spec.ref.name: missing field'] },
  { name: 'domain mapped twice', files: { 'dm.yaml': `${mapping('shop.example.org')}---\n${mapping('shop.example.org')}` },
    stderr: ['dm.yaml:15:9 metadata.name: DomainMapping store/shop.example.org is already defined at dm.yaml:1:1'] },
  { name: 'bad domain mapping next to a good service: nothing is written', files: { 'hello.yaml': HELLO, 'dm.yaml': mapping('shop') },
    args: ['hello.yaml', 'dm.yaml'],
    stderr: ['dm.yaml:4:9 metadata.name: invalid name "shop": should be a domain with at least two segments separated by dots'] },
  { name: 'two domain mappings that would share an output file', files: {
    'dm.yaml': `${mapping('c.d').replace('namespace: store', 'namespace: a-b')}---\n${mapping('b-c.d').replace('namespace: store', 'namespace: a')}`,
  }, stderr: ["dm.yaml:4:9 metadata.name: its output file a-b-c.d.yaml is also another DomainMapping's; rename one of them"] },

  // --- usage errors (exit 2)
  { name: 'no command', files: {}, argv: [], code: 2, stderr: ['kservice: no command given'] },
  { name: 'unknown command', files: {}, argv: ['build'], code: 2, stderr: ["kservice: unknown command 'build'"] },
  { name: 'compile without inputs', files: {}, argv: ['compile'], code: 2, stderr: ['kservice: compile needs at least one FILE_OR_DIR (or - for stdin)'] },
  { name: 'unknown option', files: {}, argv: ['compile', '--frobnicate', 'x.yaml'], code: 2, stderr: ["kservice: unknown option '--frobnicate'"] },
  { name: 'option without its value', files: {}, argv: ['compile', 'x.yaml', '-o'], code: 2, stderr: ["kservice: option '-o, --output <value>' argument missing"] },
];

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

describe('kservice compile rejects bad input', () => {
  it('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dir = tempDir(c.files);
    dirs.push(dir);
    const resolve = (arg: string) => (arg in c.files || /\.ya?ml$/.test(arg) || arg === 'empty' ? path.join(dir, arg) : arg);
    const historyFile = path.join(dir, 'history.yaml');
    const historyBefore = existsSync(historyFile) ? readFileSync(historyFile, 'utf8') : undefined;
    const out = path.join(dir, 'out');
    const argv = c.argv ?? ['compile', ...(c.args ?? Object.keys(c.files)).map(resolve), '-o', out];

    const result = await run(argv);

    const code = c.code ?? 1;
    expect(result.code).toBe(code);
    const lines = result.stderr.split(`${dir}/`).join('').split('\n');
    if (code === 2) {
      expect(lines[0]).toBe(c.stderr[0]);
      expect(result.stderr).toContain('Usage: kservice');
    } else {
      const summary = `kservice: ${c.stderr.length} problem${c.stderr.length === 1 ? '' : 's'} found; nothing was written`;
      expect(lines).toEqual([...c.stderr, summary, '']);
    }
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(out)).toBe(false);
    expect(existsSync(historyFile) ? readFileSync(historyFile, 'utf8') : undefined).toBe(historyBefore);
  });
});
