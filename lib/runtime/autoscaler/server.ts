import * as http from 'node:http';
import type { Registry } from 'prom-client';

/**
 * The autoscaler's HTTP surface: `POST /poke {"namespace","revision"}` on the HTTP port (the
 * activator's scale-from-zero nudge) and `GET /metrics` on the metrics port.
 */
export type PokeHandler = (namespace: string, revision: string) => Promise<boolean>;

const MAX_BODY_BYTES = 4096;

export function createPokeServer(onPoke: PokeHandler): http.Server {
  return http.createServer((req, res) => {
    if (req.url === '/healthz') return send(res, 200, 'ok');
    if (req.url !== '/poke') return send(res, 404, 'not found');
    if (req.method !== 'POST') return send(res, 405, 'POST only');
    readBody(req)
      .then(async (body) => {
        const target = parsePoke(body);
        if (typeof target === 'string') return send(res, 400, target);
        const known = await onPoke(target.namespace, target.revision);
        send(res, known ? 200 : 404, known ? 'poked' : `unknown revision ${target.namespace}/${target.revision}`);
      })
      .catch((err: Error) => send(res, 400, err.message));
  });
}

export function createMetricsServer(registry: Registry): http.Server {
  return http.createServer((req, res) => {
    if (req.url !== '/metrics') return send(res, 404, 'not found');
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => send(res, 500, err.message),
    );
  });
}

/** The poke target, or a message saying what is wrong with the body. */
export function parsePoke(body: string): { namespace: string; revision: string } | string {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return 'body must be JSON: {"namespace":"NS","revision":"REV"}';
  }
  const { namespace, revision } = (data ?? {}) as Record<string, unknown>;
  if (typeof namespace !== 'string' || namespace === '') return 'field "namespace" must be a non-empty string';
  if (typeof revision !== 'string' || revision === '') return 'field "revision" must be a non-empty string';
  return { namespace, revision };
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY_BYTES) {
        reject(new Error(`body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
      }
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, body: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${body}\n`);
}
