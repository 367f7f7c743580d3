/**
 * The admin port (8022): `/wait-for-drain`, called by the user container's preStop hook. It
 * starts the drain and answers when draining is done. If no SIGTERM follows within 1 s, the
 * preStop came from a liveness restart of the app, not a pod shutdown, so the drain is reset
 * (as Knative does) and the pod becomes ready again.
 */
import type * as http from 'node:http';
import type { Logger } from '../shared/logger';
import type { Drainer } from './drain';

export const WAIT_FOR_DRAIN_PATH = '/wait-for-drain';
const SIGTERM_GRACE_MS = 1000;

export interface AdminDeps {
  readonly drainer: Drainer;
  readonly terminating: () => boolean;
  readonly logger: Logger;
}

export function createAdminHandler(deps: AdminDeps): http.RequestListener {
  return (req, res) => {
    if (new URL(req.url ?? '/', 'http://admin').pathname !== WAIT_FOR_DRAIN_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found');
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
