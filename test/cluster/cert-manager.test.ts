// cert-manager in the real control plane: its controller (scripts/build-cert-manager.sh) issues a
// CA from a self-signed ClusterIssuer, a CA Issuer signs a certificate for a Knative-style route
// host, and Traefik terminates HTTPS for that host with the issued Secret on a Gateway API listener
// (`certificateRefs`), redirecting plain HTTP to HTTPS. This is the infrastructure of issue 22's TLS feature: the Certificate and the
// HTTPS listener are written by hand here; the compiler will emit them later.
// The client is the test process on 127.0.0.1 (Traefik's entry points), trusting only the CA.
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { CoreV1Api, CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { installCertManagerCrds, startCertManager, type CertManagerProcess } from './harness/cert-manager';
import { TRAEFIK_GATEWAY_CONTROLLER, startTraefik, type NetProcess } from './harness/net-components';
import { freePort } from './harness/ports';
import { testAppBackend } from './harness/test-app-backend';
import { waitFor } from './harness/wait';
import { installGatewayApiCrds } from './crds/gateway-api-crds';
import { useNodeCluster } from './node-agent/cluster';
import { testAppImage } from './node-agent/images';
import { httpTry } from './scenarios/support/http';
import { TEST_IMAGE } from './scenarios/support/serving';

const NS = 'default';
const HOST = 'hello.default.example.com';
/** Where a ClusterIssuer's Secrets would live (upstream's default namespace name). */
const CLUSTER_RESOURCE_NAMESPACE = 'cert-manager';
const CA = { certificate: 'kservice-test-ca', secret: 'kservice-test-ca', issuer: 'kservice-test-ca' } as const;
const LEAF = { certificate: 'hello', secret: 'hello-tls' } as const;
/** The backend answers `/` with a body of this many bytes, so an answer is known to be its. */
const BACKEND = { name: 'hello', bytes: 17 } as const;
const CERT_MANAGER = { group: 'cert-manager.io', version: 'v1' } as const;

const cluster = useNodeCluster({ images: [testAppImage(TEST_IMAGE)] });
let dir: string;
let certManager: CertManagerProcess | undefined;
let traefik: NetProcess | undefined;
let httpsPort: number;
let httpPort: number;
let failed = false;

type Manifest = KubernetesObject & { spec: object };
interface Condition { type: string; status: string; reason?: string; message?: string }

/** Self-signed ClusterIssuer -> CA Certificate -> CA Issuer -> the host's Certificate. */
function issuers(): Manifest[] {
  const issuerRef = (name: string, kind: string) => ({ name, kind, group: CERT_MANAGER.group });
  const apiVersion = `${CERT_MANAGER.group}/${CERT_MANAGER.version}`;
  return [
    { apiVersion, kind: 'ClusterIssuer', metadata: { name: 'selfsigned' }, spec: { selfSigned: {} } },
    {
      apiVersion, kind: 'Certificate', metadata: { name: CA.certificate, namespace: NS },
      spec: {
        isCA: true, commonName: 'kservice test CA', secretName: CA.secret,
        privateKey: { algorithm: 'ECDSA', size: 256 }, issuerRef: issuerRef('selfsigned', 'ClusterIssuer'),
      },
    },
    { apiVersion, kind: 'Issuer', metadata: { name: CA.issuer, namespace: NS }, spec: { ca: { secretName: CA.secret } } },
    {
      apiVersion, kind: 'Certificate', metadata: { name: LEAF.certificate, namespace: NS },
      spec: { secretName: LEAF.secret, dnsNames: [HOST], issuerRef: issuerRef(CA.issuer, 'Issuer') },
    },
  ];
}

/** An HTTPS listener for the host that terminates TLS with the issued Secret, and its route (by hand). */
function httpsGateway(port: number, httpPort: number): Manifest[] {
  return [
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'traefik' }, spec: { controllerName: TRAEFIK_GATEWAY_CONTROLLER } },
    {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'external', namespace: NS },
      spec: {
        gatewayClassName: 'traefik',
        listeners: [{
          name: 'https', protocol: 'HTTPS', port, hostname: HOST,
          tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', name: LEAF.secret }] },
          allowedRoutes: { namespaces: { from: 'Same' } },
        }, {
          name: 'http', protocol: 'HTTP', port: httpPort, hostname: HOST, allowedRoutes: { namespaces: { from: 'Same' } },
        }],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'hello', namespace: NS },
      spec: { parentRefs: [{ name: 'external', sectionName: 'https' }], hostnames: [HOST], rules: [{ backendRefs: [{ name: BACKEND.name, port: 80 }] }] },
    },
    {
      // Plain HTTP only redirects to HTTPS (what Knative's `http-option: Redirected` asks for).
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'hello-redirect', namespace: NS },
      spec: {
        parentRefs: [{ name: 'external', sectionName: 'http' }], hostnames: [HOST],
        rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', port, statusCode: 301 } }] }],
      },
    },
  ];
}

/** Waits for the cert-manager object's Ready condition to be True; returns the object. */
async function ready(plural: string, name: string, namespace?: string): Promise<{ status?: { conditions?: Condition[] } }> {
  const custom = cluster().controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
  const what = `${plural}/${name} Ready`;
  let last: Condition | undefined;
  return waitFor(what, async () => {
    const o = (namespace
      ? await custom.getNamespacedCustomObject({ ...CERT_MANAGER, namespace, plural, name })
      : await custom.getClusterCustomObject({ ...CERT_MANAGER, plural, name })) as { status?: { conditions?: Condition[] } };
    last = o.status?.conditions?.find((c) => c.type === 'Ready');
    return last?.status === 'True' ? o : undefined;
  }, { timeoutMs: 90_000 }).catch((e: Error) => {
    throw new Error(`${e.message}; last Ready condition: ${JSON.stringify(last)}`);
  });
}

async function secretData(name: string): Promise<Record<string, string>> {
  const core = cluster().controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  const s = await core.readNamespacedSecret({ namespace: NS, name });
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

/** One HTTPS GET to Traefik's websecure entry point for HOST, trusting only `ca`. */
function httpsGet(ca: string | undefined): Promise<{ status: number; body: string; peer: PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: httpsPort, path: '/', servername: HOST, headers: { host: HOST },
      ca, agent: false, timeout: 10_000,
    }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerCertificate();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, peer }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`https://${HOST}/: no answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  const c = cluster();
  dir = mkdtempSync(join(tmpdir(), 'kservice-cert-manager-'));
  const cp = c.controlPlane;
  await installCertManagerCrds(cp.kubeConfig);
  await installGatewayApiCrds(cp.kubeConfig);
  await cp.applyObjects([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: CLUSTER_RESOURCE_NAMESPACE } } as KubernetesObject], 'kservice-tests');
  certManager = await startCertManager({ kubeconfigPath: cp.kubeconfigPath, clusterResourceNamespace: CLUSTER_RESOURCE_NAMESPACE, dir });
  await cp.applyObjects(issuers(), 'kservice-tests');
  await cp.applyObjects(testAppBackend(NS, BACKEND.name, BACKEND.bytes), 'kservice-tests');
  httpsPort = await freePort();
  httpPort = await freePort();
  traefik = await startTraefik({ kubeconfigPath: cp.kubeconfigPath, bindIp: '127.0.0.1', port: httpPort, httpsPort, dir });
  await cp.applyObjects(httpsGateway(httpsPort, httpPort), 'kservice-tests');
}, 300_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  if (failed) {
    process.stderr.write(`cert-manager/Traefik logs (kept): ${dir}\n${certManager?.process.logTail(60) ?? ''}\n${traefik?.process.logTail(40) ?? ''}\n`);
  }
  await traefik?.stop();
  await certManager?.stop();
  if (!failed) rmSync(dir, { recursive: true, force: true });
});

describe('cert-manager issues a certificate for a route host', () => {
  it('makes the self-signed ClusterIssuer, the CA Certificate and the CA Issuer Ready', async () => {
    await ready('clusterissuers', 'selfsigned');
    await ready('certificates', CA.certificate, NS);
    await ready('issuers', CA.issuer, NS);
    const ca = new X509Certificate((await secretData(CA.secret))['tls.crt']);
    expect(ca.ca).toBe(true);
    expect(ca.subject).toBe('CN=kservice test CA');
    expect(ca.checkIssued(ca)).toBe(true); // self-signed
  });

  it(`issues ${HOST}'s Certificate: Ready, SAN = the host, signed by the CA, with its key`, async () => {
    await ready('certificates', LEAF.certificate, NS);
    const leafSecret = await secretData(LEAF.secret);
    const ca = new X509Certificate((await secretData(CA.secret))['tls.crt']);
    const leaf = new X509Certificate(leafSecret['tls.crt']);
    expect(leaf.subjectAltName).toBe(`DNS:${HOST}`);
    expect(leaf.checkHost(HOST)).toBe(HOST);
    expect(leaf.checkHost('other.default.example.com')).toBeUndefined();
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    // The signature check can fail: another key does not verify it.
    expect(leaf.verify(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).toBe(false);
    expect(leaf.checkPrivateKey(createPrivateKey(leafSecret['tls.key']))).toBe(true);
    expect(new X509Certificate(leafSecret['ca.crt']).fingerprint256).toBe(ca.fingerprint256);
  });

  it('Traefik serves the host over HTTPS with the issued Secret; a client trusting the CA gets the backend\'s answer', async () => {
    const custom = cluster().controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
    await waitFor('HTTPRoute hello Accepted by Traefik', async () => {
      const route = (await custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: NS, plural: 'httproutes', name: 'hello' })) as {
        status?: { parents?: Array<{ controllerName: string; conditions?: Condition[] }> };
      };
      return route.status?.parents?.some((p) => p.controllerName === TRAEFIK_GATEWAY_CONTROLLER && p.conditions?.some((k) => k.type === 'Accepted' && k.status === 'True'));
    }, { timeoutMs: 60_000 });
    const caPem = (await secretData(CA.secret))['tls.crt'];
    const leaf = new X509Certificate((await secretData(LEAF.secret))['tls.crt']);
    // Until Traefik has loaded the Secret it presents its default certificate, which the CA rejects.
    const answer = await waitFor(`a verified HTTPS answer from https://${HOST}/`, async () => {
      const r = await httpsGet(caPem);
      return r.status === 200 ? r : undefined;
    }, { timeoutMs: 90_000 });
    expect(answer.body).toHaveLength(BACKEND.bytes);
    expect(answer.peer.fingerprint256).toBe(leaf.fingerprint256);
    // Without the CA the same certificate is not trusted: the verification above is real.
    await expect(httpsGet(undefined)).rejects.toThrow(/unable to verify|self[- ]signed|issuer certificate/i);
  });

  it('redirects plain HTTP for the host to HTTPS (301)', async () => {
    const redirect = await waitFor('a redirect from http://' + HOST + '/', async () => {
      const r = await httpTry(`http://127.0.0.1:${httpPort}/`, { headers: { host: HOST }, timeoutMs: 5_000 });
      return r.status === 301 ? r : undefined;
    }, { timeoutMs: 60_000 });
    expect(redirect.headers.location).toBe(`https://${HOST}:${httpsPort}/`);
    // Another host matches neither listener's hostname: no redirect.
    expect((await httpTry(`http://127.0.0.1:${httpPort}/`, { headers: { host: 'other.example.com' }, timeoutMs: 5_000 })).status).toBe(404);
  });
});
