import { AppsV1Api, CoordinationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { AUTOSCALER_FIELD_MANAGER } from '../../contract/constants';

/** The API clients the activator and autoscaler use, from one KubeConfig. */
export interface KubeClients {
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly coordination: CoordinationV1Api;
}

/**
 * The names the runtime's writes carry as `fieldManager`, so the API server's managedFields (and
 * a GitOps tool's conflict message) say who wrote what: `kservice-autoscaler` writes Deployment
 * replicas (scale subresource), the public Endpoints' subsets and its Lease. Without it the API
 * server names the manager after the HTTP client's user agent ("node-fetch"). The activator
 * writes nothing, so it needs no name. (A scale write records an owner only when spec.replicas
 * had one before, measured on kube-apiserver 1.36; test/cluster/scenarios/reapply.test.ts.)
 */
export const FieldManagers = {
  AUTOSCALER: AUTOSCALER_FIELD_MANAGER,
} as const;

/** In a pod: the service account token; elsewhere: KUBECONFIG or ~/.kube/config. */
export function loadKubeClients(config: KubeConfig = defaultKubeConfig()): KubeClients {
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
  };
}

function defaultKubeConfig(): KubeConfig {
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
