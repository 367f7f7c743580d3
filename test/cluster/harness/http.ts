// Minimal HTTP(S) GET for health endpoints, before any client library is usable.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
  /** Only for a component's self-signed serving cert on 127.0.0.1 (kcm /healthz). */
  insecure?: boolean;
}

export function get(url: string, tls: TlsFiles = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const opts =
    u.protocol === 'https:'
      ? {
          ca: tls.ca ? readFileSync(tls.ca) : undefined,
          cert: tls.cert ? readFileSync(tls.cert) : undefined,
          key: tls.key ? readFileSync(tls.key) : undefined,
          rejectUnauthorized: !tls.insecure,
        }
      : {};
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(u, { method: 'GET', ...opts }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
