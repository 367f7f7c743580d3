/**
 * The data-plane annotation in Knative YAML (issue 13): an unknown mode or a combination that
 * cannot work is reported at file:line:col with the field, exactly as the construct reports it
 * (lib/model/data-plane.ts), and nothing is written. Kept out of bad-input.test.ts on purpose: the
 * differential suite runs every case there against Knative, which has no data-plane modes and
 * accepts all of these (the annotation is just an annotation to it), so each would only be a
 * "kservice rejects, Knative accepts" decision by design.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, workDirs } from './helpers';

const dirs = workDirs();
const ANNOTATION = 'kservice.cdk8s.io/data-plane';

/** A Service whose template annotations start on line 9 (the container follows them). */
function service(annotations: string[], containerLines: string[] = []): string {
  return [
    'apiVersion: serving.knative.dev/v1',
    'kind: Service',
    'metadata:',
    '  name: hello',
    'spec:',
    '  template:',
    '    metadata:',
    '      annotations:',
    ...annotations.map((a) => `        ${a}`),
    '    spec:',
    '      containers:',
    '        - image: ghcr.io/example/hello:1',
    ...containerLines.map((l) => `          ${l}`),
    '',
  ].join('\n');
}

async function compileFails(files: Record<string, string>): Promise<string> {
  const dir = dirs(files);
  const out = path.join(dir, 'out');
  const result = await run(['compile', ...Object.keys(files).map((f) => path.join(dir, f)), '-o', out]);
  expect(result.code).toBe(1);
  expect(result.stdout).toBe('');
  expect(existsSync(out), 'nothing written').toBe(false);
  return result.stderr.replaceAll(dir + path.sep, '');
}

describe('data-plane annotation in Knative YAML', () => {
  it.each([
    {
      name: 'unknown mode',
      yaml: service([`${ANNOTATION}: Direct`]),
      line: `svc.yaml:9:39 spec.template.metadata.annotations["${ANNOTATION}"]: must be one of full, activator, direct, static, got "Direct"`,
    },
    {
      name: 'direct at zero',
      yaml: service([`${ANNOTATION}: direct`]),
      line: `svc.yaml:9:39 spec.template.metadata.annotations["${ANNOTATION}"]: data plane "direct" needs min-scale >= 1 (nothing can wake a revision at zero without the activator); revision "hello-00001" has min-scale 0`,
    },
    {
      name: 'direct + KPA with max-scale above min-scale',
      yaml: service([`${ANNOTATION}: direct`, 'autoscaling.knative.dev/min-scale: "2"', 'autoscaling.knative.dev/max-scale: "3"']),
      line: `svc.yaml:9:39 spec.template.metadata.annotations["${ANNOTATION}"]: data plane "direct" with the KPA class has fixed replicas`,
    },
    {
      name: 'activator + exec readiness probe',
      yaml: service([`${ANNOTATION}: activator`], ['readinessProbe:', '  exec:', '    command: ["true"]']),
      line: 'svc.yaml:15:15 spec.template.spec.containers[0].readinessProbe.exec: is not supported: the activator runs the serving container\'s readiness probe in data plane "activator" and can only run httpGet (HTTP scheme) and tcpSocket probes',
    },
    {
      name: 'activator + target-burst-capacity',
      yaml: service([`${ANNOTATION}: activator`, 'autoscaling.knative.dev/target-burst-capacity: "100"']),
      line: 'svc.yaml:10:56 spec.template.metadata.annotations["autoscaling.knative.dev/target-burst-capacity"]: data plane "activator" keeps the activator in the path at every scale',
    },
  ])('$name', async ({ yaml, line }) => {
    const stderr = await compileFails({ 'svc.yaml': yaml });
    expect(stderr).toContain(line);
    expect(stderr).toContain('kservice: 1 problem found; nothing was written');
  });

  it('a Revision document chooses its own mode, and is checked in its own file', async () => {
    const current = service([]).replace('  template:\n', '  template:\n').replace('    metadata:\n      annotations:\n', '    metadata:\n      name: hello-v2\n') +
      '  traffic:\n    - latestRevision: true\n      percent: 50\n    - revisionName: hello-v1\n      percent: 50\n';
    const earlier = [
      'apiVersion: serving.knative.dev/v1',
      'kind: Revision',
      'metadata:',
      '  name: hello-v1',
      '  annotations:',
      `    ${ANNOTATION}: direct`,
      '  labels:',
      '    serving.knative.dev/service: hello',
      'spec:',
      '  containers:',
      '    - image: ghcr.io/example/hello:1',
      '',
    ].join('\n');
    const stderr = await compileFails({ 'svc.yaml': current, 'rev.yaml': earlier });
    expect(stderr).toContain(`rev.yaml:6:35 metadata.annotations["${ANNOTATION}"]: data plane "direct" needs min-scale >= 1`);
  });
});
