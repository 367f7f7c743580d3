import type * as http from 'node:http';
import { Headers, PROXY_REQUEST_ACTIVATOR } from '../../contract/constants';
import type { ActivatorAlwaysInPathSettings } from '../kube/revision-deployment';
import { completeUpstreamHeaders } from '../shared/headers';
import { type Deadlines, type TimeoutKind, type TimeoutSettings, startDeadlines } from '../shared/timeouts';

/**
 * The queue-proxy's work on the request path, done by the activator for a revision without one
 * (data-plane mode `activator`): the request reaches the app as the queue-proxy would have passed
 * it on, and the response-start and idle timeouts are enforced here. containerConcurrency per pod
 * needs nothing extra: the throttler's pod slots already bound it (the activators listed for
 * the revision split each pod's slots between them, ./subsetting.ts), and the total timeout is
 * the activator's own. The readiness probe is
 * pod-prober.ts `appProbe`.
 */

const PROXY_REQUEST = Headers.PROXY_REQUEST.toLowerCase();

/**
 * The headers the app sees (UPSTREAM_DROPPED_HEADERS left out by the forwarder): the client's
 * Host (or the K-Original-Host an earlier hop set), the Forwarded header the queue-proxy adds,
 * and `K-Proxy-Request: activator` as in mode `full`.
 */
export function appHeaders(h: http.OutgoingHttpHeaders, req: http.IncomingMessage): void {
  h[PROXY_REQUEST] = PROXY_REQUEST_ACTIVATOR;
  // An HTTP/2 request has :authority (dropped as a pseudo-header) instead of Host.
  if (h.host === undefined && req.headers[':authority'] !== undefined) h.host = String(req.headers[':authority']);
  completeUpstreamHeaders(h, req.headers);
}

/**
 * Starts the response-start and idle deadlines once a request is sent to a pod (in mode `full`
 * the queue-proxy starts them when the request reaches it, after the activator held it, so a cold
 * start does not count against them). `onExpire` must stop the forward (it frees the slots); the
 * 504 (nothing sent yet) or the cut-off (mid-response) is then written by the deadlines, as in the
 * queue-proxy. Undefined when both are off.
 */
export function startAppDeadlines(
  res: http.ServerResponse,
  settings: ActivatorAlwaysInPathSettings,
  onExpire: (kind: TimeoutKind) => void,
): Deadlines | undefined {
  return startDeadlines(res, appTimeouts(settings), onExpire);
}

/** The deadlines the activator runs for the app (the total one is its own, from arrival). */
export function appTimeouts(settings: ActivatorAlwaysInPathSettings): TimeoutSettings {
  return { totalMs: 0, responseStartMs: settings.responseStartTimeoutSeconds * 1000, idleMs: settings.idleTimeoutSeconds * 1000 };
}
