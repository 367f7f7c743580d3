import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { DATA_PLANE_ANNOTATION } from '../../../lib/contract/autoscaling';
import { Labels, RevisionAnnotations } from '../../../lib/contract/constants';
import { readRevisionDeployment, RevisionDeploymentError } from '../../../lib/runtime/kube/revision-deployment';

/** What the runtime reads from a revision's Deployment, per data-plane mode (issue 13). */

const queueProxy = (env: Record<string, string> = {}): V1Container => ({
  name: 'queue-proxy',
  image: 'runtime',
  env: Object.entries({ QUEUE_SERVING_PORT: '8012', CONTAINER_CONCURRENCY: '0', REVISION_TIMEOUT_SECONDS: '300', ...env }).map(([name, value]) => ({ name, value })),
});
const app = (over: Partial<V1Container> = {}): V1Container => ({ name: 'user-container', image: 'app', ...over });

function deployment(containers: V1Container[], annotations: Record<string, string> = {}): V1Deployment {
  return {
    metadata: { namespace: 'ns', name: 'hello-00001-deployment', labels: { [Labels.REVISION]: 'hello-00001' }, annotations, generation: 3 },
    spec: { replicas: 2, selector: {}, template: { spec: { containers } } },
  };
}
const activatorMode = (annotations: Record<string, string> = {}) => ({ [DATA_PLANE_ANNOTATION]: 'activator', ...annotations });

describe('readRevisionDeployment', () => {
  it.each([
    {
      what: 'full (no annotation): the queue-proxy env',
      d: deployment([app({ ports: [{ containerPort: 8080 }] }), queueProxy({ CONTAINER_CONCURRENCY: '4', REVISION_TIMEOUT_SECONDS: '30' })]),
      want: { dataPlane: 'full', containerConcurrency: 4, timeoutSeconds: 30, queuePort: 8012, podPort: 8012, activatorAlwaysInPath: undefined },
    },
    {
      what: 'full, h2c: the queue-proxy h2c port is where the activator sends',
      d: deployment([app(), queueProxy({ QUEUE_SERVING_PORT: '8013' })]),
      want: { dataPlane: 'full', queuePort: 8013, podPort: 8013 },
    },
    {
      what: 'static: read like full (its queue-proxy is there)',
      d: deployment([app(), queueProxy({ CONTAINER_CONCURRENCY: '2' })], { [DATA_PLANE_ANNOTATION]: 'static' }),
      want: { dataPlane: 'static', containerConcurrency: 2, activatorAlwaysInPath: undefined },
    },
    {
      what: 'direct: only the mode matters (no queue-proxy needed)',
      d: deployment([app({ ports: [{ containerPort: 9000 }] })], { [DATA_PLANE_ANNOTATION]: 'direct' }),
      want: { dataPlane: 'direct', replicas: 2, activatorAlwaysInPath: undefined },
    },
    {
      what: 'activator: annotations, app port, Knative default probe (TCP on the port)',
      d: deployment(
        [app({ ports: [{ name: 'http1', containerPort: 9000 }] })],
        activatorMode({
          [RevisionAnnotations.CONTAINER_CONCURRENCY]: '1',
          [RevisionAnnotations.TIMEOUT_SECONDS]: '30',
          [RevisionAnnotations.RESPONSE_START_TIMEOUT_SECONDS]: '10',
          [RevisionAnnotations.IDLE_TIMEOUT_SECONDS]: '5',
        }),
      ),
      want: {
        dataPlane: 'activator',
        containerConcurrency: 1,
        timeoutSeconds: 30,
        queuePort: 8012,
        podPort: 9000,
        activatorAlwaysInPath: { responseStartTimeoutSeconds: 10, idleTimeoutSeconds: 5, probe: { kind: 'tcp', host: '127.0.0.1', port: 9000 } },
      },
    },
    {
      what: 'activator without annotations or ports: Knative defaults (8080, cc 0, 300 s, timeouts off)',
      d: deployment([app()], activatorMode()),
      want: {
        containerConcurrency: 0,
        timeoutSeconds: 300,
        podPort: 8080,
        activatorAlwaysInPath: { responseStartTimeoutSeconds: 0, idleTimeoutSeconds: 0, probe: { kind: 'tcp', host: '127.0.0.1', port: 8080 } },
      },
    },
    {
      what: 'activator: the httpGet probe (path, port, headers) of the container with the port',
      d: deployment(
        [
          app({ name: 'sidecar' }),
          app({
            name: 'serving',
            ports: [{ containerPort: 8081 }],
            readinessProbe: { httpGet: { path: '/ready', port: 9001 as never, httpHeaders: [{ name: 'X-Probe', value: 'yes' }] } },
          }),
        ],
        activatorMode(),
      ),
      want: {
        podPort: 8081,
        activatorAlwaysInPath: {
          responseStartTimeoutSeconds: 0,
          idleTimeoutSeconds: 0,
          probe: { kind: 'http', host: '127.0.0.1', port: 9001, path: '/ready', scheme: 'http', headers: [['X-Probe', 'yes']] },
        },
      },
    },
    {
      what: 'activator: a tcpSocket probe without a port probes the app port',
      d: deployment([app({ ports: [{ containerPort: 7000 }], readinessProbe: { tcpSocket: {} as never } })], activatorMode()),
      want: { activatorAlwaysInPath: { responseStartTimeoutSeconds: 0, idleTimeoutSeconds: 0, probe: { kind: 'tcp', host: '127.0.0.1', port: 7000 } } },
    },
  ])('$what', ({ d, want }) => {
    const { activatorAlwaysInPath, ...rest } = want as typeof want & { activatorAlwaysInPath?: unknown };
    const read = readRevisionDeployment(d);
    expect(read).toMatchObject({ namespace: 'ns', revision: 'hello-00001', deploymentName: 'hello-00001-deployment', ...rest });
    if ('activatorAlwaysInPath' in want) expect(read.activatorAlwaysInPath).toEqual(activatorAlwaysInPath);
  });

  it.each([
    { what: 'unknown mode', d: deployment([app(), queueProxy()], { [DATA_PLANE_ANNOTATION]: 'sidecar' }), error: `annotation ${DATA_PLANE_ANNOTATION}="sidecar" is not one of full, activator, direct, static` },
    { what: 'full without queue-proxy', d: deployment([app()]), error: 'has no queue-proxy container' },
    { what: 'bad queue-proxy env', d: deployment([app(), queueProxy({ CONTAINER_CONCURRENCY: 'many' })]), error: 'queue-proxy env CONTAINER_CONCURRENCY="many" is not a number >= 0' },
    {
      what: 'negative concurrency annotation',
      d: deployment([app()], activatorMode({ [RevisionAnnotations.CONTAINER_CONCURRENCY]: '-1' })),
      error: `annotation ${RevisionAnnotations.CONTAINER_CONCURRENCY}="-1" is not a number >= 0`,
    },
    {
      what: 'zero timeout annotation',
      d: deployment([app()], activatorMode({ [RevisionAnnotations.TIMEOUT_SECONDS]: '0' })),
      error: `annotation ${RevisionAnnotations.TIMEOUT_SECONDS}="0" is not a number >= 1`,
    },
    {
      what: 'idle timeout not a number',
      d: deployment([app()], activatorMode({ [RevisionAnnotations.IDLE_TIMEOUT_SECONDS]: '5s' })),
      error: `annotation ${RevisionAnnotations.IDLE_TIMEOUT_SECONDS}="5s" is not a number >= 0`,
    },
    {
      what: 'activator mode with a queue-proxy',
      d: deployment([queueProxy()], activatorMode()),
      error: 'is marked kservice.cdk8s.io/data-plane=activator but has a queue-proxy container',
    },
    { what: 'h2c app', d: deployment([app({ ports: [{ name: 'h2c', containerPort: 8080 }] })], activatorMode()), error: 'container user-container port is named h2c' },
    {
      what: 'exec probe',
      d: deployment([app({ readinessProbe: { exec: { command: ['true'] } } })], activatorMode()),
      error: 'container user-container readinessProbe: the activator runs only httpGet and tcpSocket probes (exec given)',
    },
    {
      what: 'https probe',
      d: deployment([app({ readinessProbe: { httpGet: { port: 8443 as never, scheme: 'HTTPS' } } })], activatorMode()),
      error: 'container user-container readinessProbe.httpGet.scheme: the activator probes over plain HTTP only',
    },
    {
      what: 'probe port out of range',
      d: deployment([app({ readinessProbe: { tcpSocket: { port: 70000 as never } } })], activatorMode()),
      error: 'container user-container readinessProbe.tcpSocket.port: must be a port number 1-65535, got 70000',
    },
  ])('refuses $what with the Deployment and field named', ({ d, error }) => {
    let thrown: unknown;
    try {
      readRevisionDeployment(d);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(RevisionDeploymentError);
    expect((thrown as Error).message.startsWith(`Deployment ns/hello-00001-deployment: ${error}`)).toBe(true);
  });
});
