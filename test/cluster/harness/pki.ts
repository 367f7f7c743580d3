// Certificates and keys for a throw-away control plane.
//
// Why openssl and not node:crypto: node:crypto generates key pairs but cannot
// issue X.509 certificates (X509Certificate only parses), and adding an npm
// dependency for that (node-forge) is not allowed here. openssl is on every
// Debian machine and CI, and a few invocations take well under a second.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertPair {
  cert: string; // PEM file path
  key: string; // PEM file path
}

export interface Pki {
  ca: CertPair;
  /** kube-apiserver serving certificate (127.0.0.1, localhost, in-cluster names). */
  apiserver: CertPair;
  /** Client cert CN=kubernetes-admin, O=system:masters: the harness's identity. */
  admin: CertPair;
  /** Client cert CN=system:kube-controller-manager (bound by RBAC bootstrap policy). */
  controllerManager: CertPair;
  /** Service-account token signing key pair (RSA). */
  serviceAccount: { privateKey: string; publicKey: string };
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

// TLS keys are ECDSA P-256: generating one is near-instant, where RSA-2048
// costs ~0.5 s each on a busy 2-core machine. The service-account signing key
// stays RSA (RS256), the algorithm every Kubernetes token consumer supports.
function newKey(dir: string, name: string, algorithm: 'EC' | 'RSA' = 'EC'): string {
  const key = join(dir, `${name}.key`);
  const opt = algorithm === 'EC' ? 'ec_paramgen_curve:P-256' : 'rsa_keygen_bits:2048';
  openssl(['genpkey', '-algorithm', algorithm, '-pkeyopt', opt, '-out', key], dir);
  return key;
}

/** A key and a certificate signed by `ca` (subject e.g. `/O=system:nodes/CN=system:node:x`). */
export function signedCert(dir: string, ca: CertPair, name: string, subject: string, ext: string): CertPair {
  const key = newKey(dir, name);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, ext);
  openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr], dir);
  openssl(
    ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
      '-days', '2', '-sha256', '-extfile', extFile, '-out', cert],
    dir,
  );
  return { cert, key };
}

export const CLIENT_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';

function serverExt(serviceIp: string, extraIps: readonly string[]): string {
  const names = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc',
    'kubernetes.default.svc.cluster.local'];
  const ips = ['127.0.0.1', serviceIp, ...extraIps.filter((ip) => ip !== '127.0.0.1')];
  const san = [...names.map((n) => `DNS:${n}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
  return 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' +
    `extendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`;
}

/**
 * Creates all certificates and keys in dir. serviceIp: first IP of the service range; extraIps:
 * more addresses for the API server's serving cert (the bind address, added for the node agent).
 */
export function createPki(dir: string, serviceIp: string, extraIps: readonly string[] = []): Pki {
  const caKey = newKey(dir, 'ca');
  const caCert = join(dir, 'ca.crt');
  openssl(['req', '-x509', '-new', '-key', caKey, '-subj', '/CN=kservice-test-ca', '-days', '2',
    '-sha256', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature', '-out', caCert], dir);
  const ca = { cert: caCert, key: caKey };

  const saKey = newKey(dir, 'sa', 'RSA');
  const saPub = join(dir, 'sa.pub');
  openssl(['pkey', '-in', saKey, '-pubout', '-out', saPub], dir);

  return {
    ca,
    apiserver: signedCert(dir, ca, 'apiserver', '/CN=kube-apiserver', serverExt(serviceIp, extraIps)),
    admin: signedCert(dir, ca, 'admin', '/O=system:masters/CN=kubernetes-admin', CLIENT_EXT),
    controllerManager: signedCert(dir, ca, 'controller-manager', '/CN=system:kube-controller-manager', CLIENT_EXT),
    serviceAccount: { privateKey: saKey, publicKey: saPub },
  };
}
