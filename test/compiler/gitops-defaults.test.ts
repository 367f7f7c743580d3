// Knative's revision defaults the compiled graph must carry (timeouts, queue-proxy resources), and
// the Knative rules both front ends share (lib/model/knative-rules.ts), checked through the constructs
// and the CLI the user runs.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { Duration } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { buildDeployment } from '../../lib/builders/deployment';
import { imageErrors, revisionNamePrefixErrors } from '../../lib/model/knative-rules';

const messages = (errors: { problems: readonly { message: string }[] }) => errors.problems.map((p) => p.message).join('\n');
import { Names } from '../../lib/contract/naming';
import { revisionSpec } from './support/spec';
import { removeDir, tempDir } from '../cli/helpers';

const env = (d: any, name: string) =>
  d.spec.template.spec.containers.find((c: any) => c.name === 'queue-proxy').env.find((e: any) => e.name === name)?.value;

describe('timeouts are defaulted as Knative does (revision_defaults.go)', () => {
  it.each([
    { case: 'nothing set', props: {}, timeout: '300', responseStart: '0', idle: '0' },
    { case: 'timeout 0 means the default', props: { timeout: Duration.seconds(0) }, timeout: '300', responseStart: '0', idle: '0' },
    { case: 'timeout above 300: response-start gets the 300 default', props: { timeout: Duration.seconds(450) }, timeout: '450', responseStart: '300', idle: '0' },
    { case: 'timeout below 300: no response-start default', props: { timeout: Duration.seconds(60) }, timeout: '60', responseStart: '0', idle: '0' },
    { case: 'response-start above the timeout is kept (Knative has no such rule)', props: { timeout: Duration.seconds(10), responseStartTimeout: Duration.seconds(20) }, timeout: '10', responseStart: '20', idle: '0' },
    {
      case: 'configured defaults, applied only below the timeout',
      props: { timeout: Duration.seconds(500), config: { revisionResponseStartTimeoutSeconds: 120, revisionIdleTimeoutSeconds: 600 } },
      timeout: '500', responseStart: '120', idle: '0',
    },
    { case: 'configured revision timeout moves the response-start default with it', props: { timeout: Duration.seconds(100), config: { revisionTimeoutSeconds: 30 } }, timeout: '100', responseStart: '30', idle: '0' },
  ])('$case', ({ props, timeout, responseStart, idle }) => {
    const d = buildDeployment(revisionSpec(props)) as any;
    expect(env(d, 'REVISION_TIMEOUT_SECONDS')).toBe(timeout);
    expect(env(d, 'REVISION_RESPONSE_START_TIMEOUT_SECONDS')).toBe(responseStart);
    expect(env(d, 'REVISION_IDLE_TIMEOUT_SECONDS')).toBe(idle);
    expect(d.spec.template.spec.terminationGracePeriodSeconds).toBe(Number(timeout));
  });
});

describe('queue-proxy resources (queue.go createQueueResources)', () => {
  const qp = (props: object) => revisionSpec(props).queueSidecarResources;
  const QS = 'queue.sidecar.serving.knative.dev/';

  it('defaults: 25m CPU request, a memory limit of 800Mi with a 400Mi request, no CPU limit', () => {
    expect(qp({})).toEqual({ requests: { cpu: '25m', memory: '400Mi' }, limits: { memory: '800Mi' } });
  });

  it('every explicit annotation wins over the defaults', () => {
    expect(qp({
      templateAnnotations: {
        [`${QS}cpu-resource-request`]: '50m', [`${QS}cpu-resource-limit`]: '1',
        [`${QS}memory-resource-request`]: '64Mi', [`${QS}memory-resource-limit`]: '128Mi',
        [`${QS}ephemeral-storage-resource-request`]: '1Gi', [`${QS}ephemeral-storage-resource-limit`]: '2Gi',
      },
    })).toEqual({
      requests: { cpu: '50m', memory: '64Mi', 'ephemeral-storage': '1Gi' },
      limits: { cpu: '1', memory: '128Mi', 'ephemeral-storage': '2Gi' },
    });
  });

  it('config (config-deployment queue-sidecar-*) replaces defaults one by one; "" removes one', () => {
    expect(qp({ config: { queueSidecarResources: { memoryLimit: '300Mi', memoryRequest: '', cpuLimit: '500m' } } })).toEqual({
      requests: { cpu: '25m' },
      limits: { cpu: '500m', memory: '300Mi' },
    });
  });

  it('resource-percentage scales the serving container, within Knative\'s bounds; explicit annotations still win', () => {
    const containers = [{ image: 'ghcr.io/a/b:1', resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '4', memory: '8Gi' } } }];
    expect(qp({ containers, templateAnnotations: { [`${QS}resource-percentage`]: '10' } })).toEqual({
      // cpu 50m (in 25m..100m); memory 1Gi×10% = 107374182.4 bytes, printed in milli as Go does;
      // cpu limit 400m (in 40m..500m); memory limit 8Gi×10% (819.2Mi) clamped to 500Mi.
      requests: { cpu: '50m', memory: '107374182400m' },
      limits: { cpu: '400m', memory: '500Mi' },
    });
    expect(qp({ containers, templateAnnotations: { [`${QS}resourcePercentage`]: '1', [`${QS}cpu-resource-limit`]: '2' } })).toEqual({
      requests: { cpu: '25m', memory: '50Mi' },
      limits: { cpu: '2', memory: '200Mi' },
    });
  });
});

describe('Knative rules shared by the constructs and the CLI', () => {
  it.each([
    'nginx', 'ghcr.io/knative/helloworld-go:latest', 'localhost:5000/app', 'registry.example:5000/team/app:v1.2',
    `gcr.io/a/b@sha256:${'a'.repeat(64)}`, `gcr.io/a/b:v1@sha256:${'0'.repeat(64)}`, '[::1]:5000/app',
  ])('accepts the image %s', (image) => expect(imageErrors(image).empty).toBe(true));

  it.each([
    'docker.io/{username}/app', 'x', 'App', 'nginx:bad tag', 'gcr.io/a/b@sha256:short', 'gcr.io/a/b@md5:abc', 'a@b@c', 'user@host/app',
  ])('rejects the image %s', (image) => expect(messages(imageErrors(image))).toMatch(/is not an image reference Knative accepts/));

  it('a generated (hashed) revision name of a 58-63 character service is not held to the prefix rule', () => {
    for (const length of [57, 58, 60, 63]) {
      const service = 's'.repeat(length);
      expect(revisionNamePrefixErrors(service, Names.revision(service, 1)).empty).toBe(true);
      expect(revisionNamePrefixErrors(service, Names.revision(service, 12)).empty).toBe(true);
    }
    expect(Names.revision('s'.repeat(60), 1).startsWith('s'.repeat(60))).toBe(false);
    expect(messages(revisionNamePrefixErrors('hello', 'world-1'))).toMatch(/must start with the service name/);
    expect(messages(revisionNamePrefixErrors('hello', 'hello-'))).toMatch(/must start with the service name/);
  });
});

describe('the CLI accepts what Knative accepts', () => {
  const cli = path.join(__dirname, '../../bin/kservice.js');
  it('a 60-character service name, a gRPC probe without a port, response-start above the timeout', () => {
    const name = 'a'.repeat(60);
    const dir = tempDir({
      'svc.yaml': [
        'apiVersion: serving.knative.dev/v1', 'kind: Service', `metadata:\n  name: ${name}`, 'spec:', '  template:', '    spec:',
        '      timeoutSeconds: 100', '      responseStartTimeoutSeconds: 200', '      containers:',
        '        - image: docker.io/someone/app', '          readinessProbe:', '            grpc: {}', '',
      ].join('\n'),
    });
    try {
      const out = execFileSync(process.execPath, [cli, 'compile', path.join(dir, 'svc.yaml')], { encoding: 'utf8' });
      expect(out).toContain(`name: ${Names.deployment(Names.revision(name, 1))}\n`);
      expect(out).toContain('{"grpc":{"port":8080,"service":""},"successThreshold":1}');
      expect(out).toMatch(/REVISION_RESPONSE_START_TIMEOUT_SECONDS\n\s+value: "200"/);
    } finally {
      removeDir(dir);
    }
  });

  it('--config queueSidecarResources and revision-response-start-timeout-seconds reach the Deployment', () => {
    const dir = tempDir({
      'svc.yaml': 'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: hello\nspec:\n  template:\n    spec:\n      timeoutSeconds: 500\n      containers:\n        - image: ghcr.io/example/hello:1\n',
      'config.yaml': "queueSidecarResources:\n  memoryLimit: 256Mi\n  memoryRequest: ''\nrevisionResponseStartTimeoutSeconds: 45\n",
    });
    try {
      const out = execFileSync(process.execPath, [cli, 'compile', path.join(dir, 'svc.yaml'), '--config', path.join(dir, 'config.yaml')], { encoding: 'utf8' });
      expect(out).toMatch(/resources:\n\s+limits:\n\s+memory: 256Mi\n\s+requests:\n\s+cpu: 25m\n/);
      expect(out).toMatch(/REVISION_RESPONSE_START_TIMEOUT_SECONDS\n\s+value: "45"/);
    } finally {
      removeDir(dir);
    }
  });
});
