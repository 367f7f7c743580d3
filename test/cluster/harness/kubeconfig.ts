// Kubeconfig files for the harness (admin, controller manager) and for
// ServiceAccounts, so code under test runs with exactly the RBAC it is granted.
import { writeFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

export type Credentials =
  | { clientCertificate: string; clientKey: string } // file paths
  | { token: string };

/** Writes a single-context kubeconfig and returns a KubeConfig loaded from it. */
export function writeKubeconfig(
  path: string,
  server: string,
  caFile: string,
  user: string,
  creds: Credentials,
): KubeConfig {
  const userEntry =
    'token' in creds
      ? { token: creds.token }
      : { 'client-certificate': creds.clientCertificate, 'client-key': creds.clientKey };
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kservice-test', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: user, user: userEntry }],
    contexts: [{ name: user, context: { cluster: 'kservice-test', user } }],
    'current-context': user,
  };
  // 0600: the file holds credentials, like kubectl writes it.
  writeFileSync(path, stringify(doc), { mode: 0o600 });
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}
