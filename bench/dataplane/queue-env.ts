/**
 * The queue-proxy environment of reference section 3.3, the same for our queue-proxy and
 * Knative's, so both run under the contract the compiled Deployment gives them.
 */
import { KNATIVE_ZAP_LOGGER_CONFIG } from '../../lib/contract/constants';

export const BENCH_NAMESPACE = 'bench';
export const BENCH_REVISION = 'bench-00001';

/** Headers the activator routes by (knative/serving pkg/activator/handler/context_handler.go); sent on every path alike. */
export const REVISION_HEADERS: Readonly<Record<string, string>> = {
  'Knative-Serving-Namespace': BENCH_NAMESPACE,
  'Knative-Serving-Revision': BENCH_REVISION,
};

export interface QueueEnvInput {
  readonly servingPort: number;
  readonly userPort: number;
  readonly containerConcurrency: number;
}

export function queueProxyEnv(input: QueueEnvInput): Record<string, string> {
  return {
    SERVING_NAMESPACE: BENCH_NAMESPACE,
    SERVING_SERVICE: 'bench',
    SERVING_CONFIGURATION: 'bench',
    SERVING_REVISION: BENCH_REVISION,
    QUEUE_SERVING_PORT: String(input.servingPort),
    QUEUE_SERVING_TLS_PORT: '8112',
    CONTAINER_CONCURRENCY: String(input.containerConcurrency),
    REVISION_TIMEOUT_SECONDS: '300',
    REVISION_RESPONSE_START_TIMEOUT_SECONDS: '0',
    REVISION_IDLE_TIMEOUT_SECONDS: '0',
    SERVING_POD: 'bench-00001-deployment-0',
    SERVING_POD_IP: '127.0.0.1',
    SERVING_LOGGING_CONFIG: KNATIVE_ZAP_LOGGER_CONFIG,
    SERVING_LOGGING_LEVEL: '',
    USER_PORT: String(input.userPort),
    SYSTEM_NAMESPACE: 'knative-serving',
    SERVING_READINESS_PROBE: JSON.stringify({ tcpSocket: { port: input.userPort, host: '127.0.0.1' }, successThreshold: 1 }),
    HOST_IP: '127.0.0.1',
    ENABLE_HTTP2_AUTO_DETECTION: 'false',
    ENABLE_HTTP_FULL_DUPLEX: 'false',
    ROOT_CA: '',
    QUEUE_PROXY_TLS_MIN_VERSION: '',
    QUEUE_PROXY_TLS_MAX_VERSION: '',
    QUEUE_PROXY_TLS_CIPHER_SUITES: '',
    QUEUE_PROXY_TLS_CURVE_PREFERENCES: '',
    ENABLE_MULTI_CONTAINER_PROBES: 'false',
    OBSERVABILITY_CONFIG: JSON.stringify({ tracing: {}, metrics: {}, runtime: {}, requestMetrics: {} }),
  };
}

/** A kubelet-style readiness probe of a queue-proxy (knative/serving pkg/reconciler/revision/resources/queue.go, readinessProbe). */
export const QUEUE_PROBE_HEADERS: Readonly<Record<string, string>> = { 'K-Network-Probe': 'queue', 'User-Agent': 'kube-probe/1.36' };
