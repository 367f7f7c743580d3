import { describe, expect, it } from 'vitest';
import { Duration } from 'cdk8s';
import {
  buildQueueProxyContainer,
  queueProxyEnv,
  queueProxyReadinessProbe,
  readinessProbeForQueue,
} from '../../lib/builders/queue-proxy-container';
import { revisionSpec } from './support/spec';
import type { Probe } from '../../lib/model/kservice-props';

const envValue = (env: ReturnType<typeof queueProxyEnv>, name: string) => env.find((e) => e.name === name)?.value;

describe('queue-proxy container', () => {
  it('declares the env contract in Knative order', () => {
    expect(queueProxyEnv(revisionSpec()).map((e) => e.name)).toEqual([
      'SERVING_NAMESPACE', 'SERVING_SERVICE', 'SERVING_CONFIGURATION', 'SERVING_REVISION',
      'QUEUE_SERVING_PORT', 'QUEUE_SERVING_TLS_PORT', 'CONTAINER_CONCURRENCY', 'REVISION_TIMEOUT_SECONDS',
      'REVISION_RESPONSE_START_TIMEOUT_SECONDS', 'REVISION_IDLE_TIMEOUT_SECONDS', 'SERVING_POD', 'SERVING_POD_IP',
      'SERVING_LOGGING_CONFIG', 'SERVING_LOGGING_LEVEL', 'USER_PORT', 'SYSTEM_NAMESPACE', 'SERVING_READINESS_PROBE',
      'HOST_IP', 'ENABLE_HTTP2_AUTO_DETECTION', 'ENABLE_HTTP_FULL_DUPLEX', 'ROOT_CA', 'QUEUE_PROXY_TLS_MIN_VERSION',
      'QUEUE_PROXY_TLS_MAX_VERSION', 'QUEUE_PROXY_TLS_CIPHER_SUITES', 'QUEUE_PROXY_TLS_CURVE_PREFERENCES',
      'ENABLE_MULTI_CONTAINER_PROBES', 'OBSERVABILITY_CONFIG', 'QUEUE_DRAIN_TOKEN',
    ]);
  });

  it.each([
    {
      case: 'defaults',
      props: {},
      want: { QUEUE_SERVING_PORT: '8012', CONTAINER_CONCURRENCY: '0', REVISION_TIMEOUT_SECONDS: '300', REVISION_RESPONSE_START_TIMEOUT_SECONDS: '0', REVISION_IDLE_TIMEOUT_SECONDS: '0', USER_PORT: '8080', SERVING_REVISION: 'svc-00001', SERVING_NAMESPACE: 'default' },
    },
    {
      case: 'h2c, concurrency and timeouts',
      props: {
        namespace: 'ns', containerConcurrency: 4, timeout: Duration.seconds(90), responseStartTimeout: Duration.seconds(10),
        idleTimeout: Duration.seconds(20), containers: [{ image: 'registry.example/app', port: 9000, portName: 'h2c' as const }],
      },
      want: { QUEUE_SERVING_PORT: '8013', CONTAINER_CONCURRENCY: '4', REVISION_TIMEOUT_SECONDS: '90', REVISION_RESPONSE_START_TIMEOUT_SECONDS: '10', REVISION_IDLE_TIMEOUT_SECONDS: '20', USER_PORT: '9000', SERVING_NAMESPACE: 'ns' },
    },
    {
      case: 'full duplex annotation',
      props: { templateAnnotations: { 'features.knative.dev/http-full-duplex': 'Enabled' } },
      want: { ENABLE_HTTP_FULL_DUPLEX: 'true' },
    },
  ])('env values: $case', ({ props, want }) => {
    const env = queueProxyEnv(revisionSpec(props));
    for (const [name, value] of Object.entries(want)) expect([name, envValue(env, name)]).toEqual([name, value]);
  });

  it("hands Knative's default zap logging config over, so Knative's own queue image starts with it", () => {
    const config = JSON.parse(envValue(queueProxyEnv(revisionSpec()), 'SERVING_LOGGING_CONFIG') ?? 'null');
    expect(config).toMatchObject({ level: 'info', encoding: 'json', outputPaths: ['stdout'], encoderConfig: { timeKey: 'timestamp', levelKey: 'severity' } });
    // Empty: declared without a value, as Go's omitempty writes it (the container sees "").
    expect(queueProxyEnv(revisionSpec()).find((e) => e.name === 'SERVING_LOGGING_LEVEL')).toEqual({ name: 'SERVING_LOGGING_LEVEL' });
  });

  it('reads pod facts from the downward API', () => {
    const env = queueProxyEnv(revisionSpec());
    // apiVersion as the API server stores it, so a second applier's apply does not conflict.
    expect(env.find((e) => e.name === 'SERVING_POD')).toEqual({ name: 'SERVING_POD', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } });
    expect(env.find((e) => e.name === 'HOST_IP')).toEqual({ name: 'HOST_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.hostIP' } } });
  });

  it.each([
    { protocol: 'http1', props: {}, main: 8012 },
    { protocol: 'h2c', props: { containers: [{ image: 'registry.example/app', portName: 'h2c' as const }] }, main: 8013 },
  ])('is the whole expected container for $protocol', ({ props, main }) => {
    expect(buildQueueProxyContainer(revisionSpec(props))).toEqual({
      name: 'queue-proxy',
      image: 'ghcr.io/cdk8s-kservice/runtime:0.1.0',
      args: ['queue-proxy'],
      ports: [
        { name: 'http-autometric', containerPort: 9090 },
        { name: 'http-usermetric', containerPort: 9091 },
        { name: 'queue-port', containerPort: main },
        { name: 'https-port', containerPort: 8112 },
      ],
      env: expect.any(Array),
      resources: { requests: { cpu: '25m', memory: '400Mi' }, limits: { memory: '800Mi' } },
      readinessProbe: { httpGet: { port: main, httpHeaders: [{ name: 'K-Network-Probe', value: 'queue' }] }, successThreshold: 1 },
      securityContext: {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      },
    });
  });

  it('keeps the user probe timing on the kubelet probe of queue-proxy', () => {
    const rev = revisionSpec({ containers: [{ image: 'registry.example/app', readinessProbe: { httpGet: { path: '/ready' }, periodSeconds: 3, initialDelaySeconds: 2 } }] });
    expect(queueProxyReadinessProbe(rev)).toEqual({
      httpGet: { port: 8012, httpHeaders: [{ name: 'K-Network-Probe', value: 'queue' }] },
      initialDelaySeconds: 2,
      periodSeconds: 3,
      successThreshold: 1,
      failureThreshold: 3,
      timeoutSeconds: 1,
    });
  });
});

describe('SERVING_READINESS_PROBE', () => {
  it.each<{ case: string; probe: Probe | undefined; port: number; json: string }>([
    { case: 'no probe: TCP on the user port', probe: undefined, port: 8080, json: '{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}' },
    { case: 'HTTP path', probe: { httpGet: { path: '/healthz' } }, port: 8080, json: '{"httpGet":{"path":"/healthz","port":8080,"host":"127.0.0.1","scheme":"HTTP"},"successThreshold":1}' },
    { case: 'HTTP with explicit port and HTTPS', probe: { httpGet: { path: '/h', port: 8081, scheme: 'HTTPS' } }, port: 8081, json: '{"httpGet":{"path":"/h","port":8081,"host":"127.0.0.1","scheme":"HTTPS"},"successThreshold":1}' },
    { case: 'exec becomes TCP', probe: { exec: { command: ['true'] } }, port: 8080, json: '{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}' },
    { case: 'gRPC (service defaulted to "" as Knative does)', probe: { grpc: { port: 0 } }, port: 8080, json: '{"grpc":{"port":8080,"service":""},"successThreshold":1}' },
    { case: 'gRPC without a port', probe: { grpc: {} as { port: number } }, port: 8080, json: '{"grpc":{"port":8080,"service":""},"successThreshold":1}' },
    { case: 'gRPC with a service', probe: { grpc: { port: 9000, service: 'health' } }, port: 8080, json: '{"grpc":{"port":9000,"service":"health"},"successThreshold":1}' },
    { case: 'period set: timeout 1, failure 3', probe: { tcpSocket: { port: 0 }, periodSeconds: 5 }, port: 8080, json: '{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"timeoutSeconds":1,"periodSeconds":5,"successThreshold":1,"failureThreshold":3}' },
  ])('$case', ({ probe, port, json }) => {
    const rev = revisionSpec({ containers: [{ image: 'registry.example/app', port, readinessProbe: probe }] });
    expect(queueProxyEnv(rev).find((e) => e.name === 'SERVING_READINESS_PROBE')?.value).toBe(json);
  });

  it('never mutates the probe it is given', () => {
    const probe = { httpGet: { path: '/x' } };
    readinessProbeForQueue(probe, 8080);
    expect(probe).toEqual({ httpGet: { path: '/x' } });
  });
});
