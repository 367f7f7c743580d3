import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FieldManagers, loadKubeClients } from '../../../lib/runtime/kube/client';
import { patchReplicas } from '../../../lib/runtime/kube/scale';

/**
 * The runtime's API clients against a real HTTPS server on 127.0.0.1 (a self-signed certificate
 * made with openssl): calls share one kept-alive TLS connection instead of a handshake each, which
 * on a cold start sat between the autoscaler's decision and its scale write.
 */
let dir: string;
let server: https.Server;
let port: number;
const tlsConnections: number[] = [];
const requests: { method: string; url: string; contentType: string; authorization: string; body: string }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kservice-kube-client-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', contentType: String(req.headers['content-type']), authorization: String(req.headers.authorization), body });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 1 } }));
    });
  });
  server.on('secureConnection', (socket) => tlsConnections.push(socket.remotePort ?? 0));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function kubeConfig(): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, caFile: join(dir, 'cert.pem') }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return config;
}

describe('loadKubeClients', () => {
  it('sends successive calls over one kept-alive TLS connection, verified against the cluster CA, with the token', async () => {
    tlsConnections.length = 0;
    requests.length = 0;
    const { apps } = loadKubeClients(kubeConfig());
    for (const replicas of [1, 2, 0]) await patchReplicas(apps, 'ns', 'hello-00001-deployment', replicas, FieldManagers.AUTOSCALER);
    expect(requests.map((r) => [r.method, r.url, r.contentType])).toEqual([1, 2, 0].map(() => [
      'PATCH', `/apis/apps/v1/namespaces/ns/deployments/hello-00001-deployment/scale?fieldManager=${FieldManagers.AUTOSCALER}`, 'application/json-patch+json',
    ]));
    expect(requests.map((r) => JSON.parse(r.body))).toEqual([1, 2, 0].map((value) => [{ op: 'add', path: '/spec/replicas', value }]));
    expect(requests.map((r) => r.authorization)).toEqual(['Bearer secret-token', 'Bearer secret-token', 'Bearer secret-token']);
    expect(tlsConnections).toHaveLength(1);
  });

  it('refuses a server whose certificate the kubeconfig CA did not sign (the kept agent still verifies)', async () => {
    const config = kubeConfig();
    config.clusters[0] = { ...config.clusters[0], caFile: undefined, caData: undefined };
    const { apps } = loadKubeClients(config);
    await expect(patchReplicas(apps, 'ns', 'hello-00001-deployment', 1, FieldManagers.AUTOSCALER)).rejects.toThrow(/self[- ]signed|certificate/i);
  });
});

/**
 * Plain http: (a local API server; the scale bench's fake one): the calls share one kept-alive
 * connection too. With a connection per call, the bench's autoscaler lost every bucket Lease
 * once the host's conntrack table was full of its scrape connections (new SYNs dropped, Lease
 * renewals timed out, no write in 50 s after an activator was replaced).
 */
describe('loadKubeClients over plain http', () => {
  it('sends successive calls, Lease and other, over one kept-alive connection', async () => {
    const connections: number[] = [];
    const urls: string[] = [];
    const plain = http.createServer((req, res) => {
      urls.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 1 } })));
    });
    plain.on('connection', (socket) => connections.push(socket.remotePort ?? 0));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const config = new KubeConfig();
      config.loadFromOptions({
        clusters: [{ name: 'c', server: `http://127.0.0.1:${(plain.address() as AddressInfo).port}`, skipTLSVerify: true }],
        users: [{ name: 'u', token: 'autoscaler-0' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      const { apps, coordination } = loadKubeClients(config);
      for (const replicas of [1, 2]) await patchReplicas(apps, 'ns', 'hello-00001-deployment', replicas, FieldManagers.AUTOSCALER);
      await coordination.readNamespacedLease({ name: 'kservice-autoscaler', namespace: 'knative-serving' }).catch(() => undefined);
      expect(urls).toHaveLength(3);
      expect(urls[2]).toBe('GET /apis/coordination.k8s.io/v1/namespaces/knative-serving/leases/kservice-autoscaler');
      expect(connections).toHaveLength(1);
    } finally {
      plain.closeAllConnections();
      await new Promise((resolve) => plain.close(resolve));
    }
  });
});
