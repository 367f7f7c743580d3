/**
 * The admin port (8022): `/wait-for-drain`, called by the user container's preStop hook. It
 * starts the drain and answers when draining is done. If no SIGTERM follows within 1 s, the
 * preStop came from a liveness restart of the app, not a pod shutdown, so the drain is reset
 * (as Knative does) and the pod becomes ready again.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type * as http from 'node:http';
import { DRAIN_TOKEN_HEADER, WAIT_FOR_DRAIN_PATH } from '../../contract/constants';
import type { Logger } from '../shared/logger';
import type { Drainer } from './drain';

export { WAIT_FOR_DRAIN_PATH };
const SIGTERM_GRACE_MS = 1000;
const TOKEN_HEADER = DRAIN_TOKEN_HEADER.toLowerCase();

export interface AdminDeps {
  readonly drainer: Drainer;
  readonly terminating: () => boolean;
  /**
   * The token the preStop hook sends (DRAIN_TOKEN_HEADER); a call without it gets 403 and
   * changes nothing. Undefined (a Deployment compiled before tokens) asks for none.
   */
  readonly drainToken?: string;
  readonly logger: Logger;
}

export function createAdminHandler(deps: AdminDeps): http.RequestListener {
  return (req, res) => {
    if (new URL(req.url ?? '/', 'http://admin').pathname !== WAIT_FOR_DRAIN_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found');
      return;
    }
    if (deps.drainToken !== undefined && !sameToken(req.headers[TOKEN_HEADER], deps.drainToken)) {
      deps.logger.warn({ from: req.socket.remoteAddress }, 'drain request without the drain token: refused');
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('forbidden');
      return;
    }
    deps.logger.info('drain requested by the user container');
    const resetUnlessTerminating = setTimeout(() => {
      if (deps.terminating()) return;
      deps.logger.info('no SIGTERM followed the drain request: resetting the drain');
      deps.drainer.reset();
    }, SIGTERM_GRACE_MS);
    void deps.drainer.drain().then(() => {
      clearTimeout(resetUnlessTerminating);
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('drained');
    });
  };
}

/** Constant-time comparison (of digests, so the lengths match) against the expected token. */
function sameToken(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
