import { existsSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  AppsV1Api, type Configuration, CoordinationV1Api, CoreV1Api, createConfiguration, KubeConfig, type RequestContext,
  type SecurityAuthentication, ServerConfiguration,
} from '@kubernetes/client-node';
import { AUTOSCALER_FIELD_MANAGER } from '../../contract/constants';
import { Clock } from '../shared/clock';
import { ConfigError } from '../shared/env';
import { ClientRate, ClientRateLimiter } from './rate-limiter';

/** The API clients the activator and autoscaler use, from one KubeConfig. */
export interface KubeClients {
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly coordination: CoordinationV1Api;
  /** The one rate limit of every request of these clients but watches (./rate-limiter.ts). */
  readonly limiter: ClientRateLimiter;
}

/**
 * The client's rate limit unless KUBE_API_QPS / KUBE_API_BURST say otherwise (../autoscaler/config.ts):
 * knative/serving cmd/autoscaler/main.go sets its REST client to controllerNum (2) × client-go's
 * rest.DefaultQPS (5) and rest.DefaultBurst (10).
 */
export const ClientRateDefaults: ClientRate = { qps: 10, burst: 20 };

/**
 * The names the runtime's writes carry as `fieldManager`, so the API server's managedFields (and
 * a GitOps tool's conflict message) say who wrote what: `kservice-autoscaler` writes Deployment
 * replicas (scale subresource), the public Endpoints' subsets (and creates a missing public
 * Endpoints object by server-side apply) and its Lease. Without it the API
 * server names the manager after the HTTP client's user agent ("node-fetch"). The activator
 * writes nothing, so it needs no name. (A scale write records an owner only when spec.replicas
 * had one before, measured on kube-apiserver 1.36; test/cluster/scenarios/reapply.test.ts.)
 */
export const FieldManagers = {
  AUTOSCALER: AUTOSCALER_FIELD_MANAGER,
} as const;

/**
 * In a pod: the service account token; elsewhere: KUBECONFIG or ~/.kube/config. Every request of
 * the clients returned but watches waits for a token of one limiter (`rate`).
 */
export function loadKubeClients(config: KubeConfig = defaultKubeConfig(), rate: ClientRate = ClientRateDefaults, clock?: Clock): KubeClients {
  const limiter = new ClientRateLimiter(rate, { clock });
  const configuration = keepAliveConfiguration(config, limiter);
  return {
    config,
    core: new CoreV1Api(configuration),
    apps: new AppsV1Api(configuration),
    coordination: new CoordinationV1Api(configuration),
    limiter,
  };
}

/** Below kube-apiserver's 90 s keep-alive idle timeout (k8s.io/apiserver pkg/server/secure_serving.go), so we close first. */
const IDLE_API_SOCKET_MS = 30_000;

/**
 * What KubeConfig.makeApiClient builds, but with one keep-alive https.Agent for every call. The
 * client gives each call a new Agent (KubeConfig.applySecurityAuthentication), so each call opened
 * a TCP connection and made a TLS handshake: on a cold start the scale write from zero paid one
 * (docs/runtime-performance.md, "Poke → scale write"). The KubeConfig still sets the headers (a
 * rotated token is read again) and the TLS options; the kept Agent is replaced when those change.
 * Watches (informers) do not go through here and keep their own connections.
 */
function keepAliveConfiguration(kubeConfig: KubeConfig, limiter: ClientRateLimiter): Configuration {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig: no current cluster');
  let kept: { agent: https.Agent; tls: string } | undefined;
  let keptHttp: http.Agent | undefined;
  const auth: SecurityAuthentication = {
    getName: () => kubeConfig.getName(),
    async applySecurityAuthentication(context: RequestContext): Promise<void> {
      await kubeConfig.applySecurityAuthentication(context);
      const fresh = context.getAgent();
      if (fresh?.constructor === http.Agent) {
        // Plain http: (a local API server, the scale bench's fake one) is kept alive too: a new
        // connection per call would make every Lease renewal depend on the host accepting a new
        // connection; with conntrack full (many short-lived scrape connections), new SYNs are
        // dropped and the renewals time out while the kept connections still work.
        keptHttp ??= new http.Agent({ keepAlive: true, timeout: IDLE_API_SOCKET_MS });
        context.setAgent(keptHttp);
        return;
      }
      if (!(fresh instanceof https.Agent)) return; // a proxy agent: left as the client made it
      const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = fresh.options;
      const tls = JSON.stringify([ca, cert, key, pfx, passphrase, rejectUnauthorized, servername].map((v) => (v === undefined ? null : String(v))));
      if (kept?.tls !== tls) {
        kept?.agent.destroy();
        kept = { agent: new https.Agent({ ...fresh.options, keepAlive: true, timeout: IDLE_API_SOCKET_MS }), tls };
      }
      context.setAgent(kept.agent);
    },
  };
  return createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: auth },
    promiseMiddleware: [limiter.middleware()],
  });
}

/** Where client-node's loadFromDefault finds the pod's ServiceAccount token. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function defaultKubeConfig(): KubeConfig {
  // With none of these, loadFromDefault falls back to http://localhost:8080 and the informers
  // would retry it forever; the runtime names what is missing instead (it no longer needs a
  // namespace list, which used to be the first thing found missing).
  if (!process.env.KUBECONFIG && !existsSync(SERVICE_ACCOUNT_TOKEN) && !existsSync(join(homedir(), '.kube', 'config'))) {
    throw new ConfigError('KUBECONFIG', 'is required outside a pod (no ServiceAccount token, no ~/.kube/config)');
  }
  const config = new KubeConfig();
  config.loadFromDefault();
  return config;
}

/** The HTTP status of a failed API call, if it was one. */
export function apiStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (err: unknown): boolean => apiStatus(err) === 404;
export const isConflict = (err: unknown): boolean => apiStatus(err) === 409;

/** A short description of an API error for logs (the body of a Status, not a stack). */
export function describeApiError(err: unknown): string {
  const status = apiStatus(err);
  const body = (err as { body?: unknown } | null)?.body;
  let message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  if (typeof body === 'string') {
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the error's own message
    }
  }
  return status !== undefined ? `HTTP ${status}: ${message}` : message;
}

/** Whether a failed API call is worth retrying, and not before when. */
export type RetryAdvice = { readonly retry: false } | { readonly retry: true; readonly notBeforeMs?: number };

/**
 * What to do after a failed write, as client-go does: retry a conflict (409, written again from
 * the informer cache once it caught up), a timeout (408), throttling (429) and server errors
 * (5xx), and a failure with no HTTP status (connection refused or reset); give up on the other
 * 4xx (bad request, forbidden, not found, invalid), which a retry cannot fix. A 429 or 503 with
 * Retry-After is not retried before it (client-go rest/request.go, checkWait; the API server's
 * priority and fairness sends 429 with Retry-After).
 */
export function apiRetryAdvice(err: unknown, nowMs: number): RetryAdvice {
  const status = apiStatus(err);
  if (status !== undefined && status >= 400 && status < 500 && ![408, 409, 429].includes(status)) return { retry: false };
  const afterMs = status === 429 || status === 503 ? retryAfterMs(err, nowMs) : undefined;
  return afterMs === undefined ? { retry: true } : { retry: true, notBeforeMs: nowMs + afterMs };
}

/**
 * The Retry-After of a failed API call in milliseconds: delay-seconds or an HTTP date (RFC 9110
 * §10.2.3); undefined when absent or unreadable.
 */
export function retryAfterMs(err: unknown, nowMs: number): number | undefined {
  const headers = (err as { headers?: unknown } | null)?.headers;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'retry-after');
  const value = typeof entry?.[1] === 'string' ? entry[1].trim() : undefined;
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
