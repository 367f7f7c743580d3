// A plain backend for the network-path tests: a Deployment of the test app (test/runtime/apps/
// test-app.mjs, run by the node agent for TEST_IMAGE) answering `/` with a body of `bytes` bytes, so
// an answer names the backend it came from, behind a ClusterIP Service port 80 -> 8080.
import type { KubernetesObject } from '@kubernetes/client-node';
import { TEST_IMAGE } from '../scenarios/support/serving';

export const TEST_APP_PORT = 8080;

export function testAppBackend(namespace: string, name: string, bytes: number): KubernetesObject[] {
  const labels = { app: name };
  const container = {
    name: 'app', image: TEST_IMAGE, ports: [{ containerPort: TEST_APP_PORT }],
    env: [{ name: 'RESPONSE_BYTES', value: String(bytes) }],
    readinessProbe: { httpGet: { path: '/healthz', port: TEST_APP_PORT } },
  };
  return [
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
      spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [container] } } },
    } as KubernetesObject,
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: TEST_APP_PORT }] },
    } as KubernetesObject,
  ];
}
