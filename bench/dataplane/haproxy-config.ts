/**
 * HAProxy as the same concurrency-limiting queue as a queue-proxy: one server with
 * `maxconn` = containerConcurrency, a bounded queue of 10 × containerConcurrency
 * (`maxqueue`, Knative's queue depth, knative/serving pkg/queue/sharedmain/main.go) and `timeout queue` = the revision timeout.
 */
export interface HaproxyConfigInput {
  readonly listenPort: number;
  readonly appPort: number;
  readonly containerConcurrency: number;
  readonly revisionTimeoutSeconds: number;
}

export function haproxyConfig(input: HaproxyConfigInput): string {
  const { listenPort, appPort, containerConcurrency: cc, revisionTimeoutSeconds: timeout } = input;
  return [
    'global',
    '  nbthread 1', // one thread on one core, like the Node proxies (Go's queue-proxy gets GOMAXPROCS=1 from the same pinning)
    '  maxconn 4096', // haproxy raises RLIMIT_NOFILE to about 2 x maxconn; keep that under the usual hard limit
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    '  http-reuse always',
    '  timeout connect 5s',
    `  timeout client ${timeout}s`,
    `  timeout server ${timeout}s`,
    `  timeout queue ${timeout}s`,
    'frontend queue',
    `  bind 127.0.0.1:${listenPort}`,
    '  default_backend app',
    'backend app',
    `  server app 127.0.0.1:${appPort} maxconn ${cc} maxqueue ${cc * 10}`,
    '',
  ].join('\n');
}
