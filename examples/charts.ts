/**
 * The example services, one Chart each, plus the ServingSystem chart. `examples/main.ts` synthesizes
 * them (`npx cdk8s synth`); the compiler tests snapshot and schema-check the same App.
 */
import { App, Chart, Duration, type AppProps } from 'cdk8s';
import { AutoscalingClass, AutoscalingMetric, DataPlane, Ingress, KService, ServingSystem, Visibility, type ServingConfigProps } from '../lib';

const HELLO_IMAGE = 'ghcr.io/knative/helloworld-go:latest';

export function hello(app: App): KService {
  return new KService(new Chart(app, 'hello'), 'hello', {
    containers: [{ image: HELLO_IMAGE, env: { TARGET: 'world' } }],
  });
}

/** Two revisions: 90% stays on the first, 10% tries the second, also reachable as `candidate-shop`. */
export function canary(app: App): KService {
  return new KService(new Chart(app, 'canary'), 'shop', {
    namespace: 'shop',
    generation: 2,
    containers: [{ image: 'ghcr.io/example/shop:2.0.0', env: { RELEASE: 'v2' } }],
    revisions: [{ name: 'shop-00001', containers: [{ image: 'ghcr.io/example/shop:1.0.0', env: { RELEASE: 'v1' } }] }],
    traffic: [
      { revisionName: 'shop-00001', percent: 90 },
      { latestRevision: true, percent: 10, tag: 'candidate' },
    ],
  });
}

export function clusterLocal(app: App): KService {
  return new KService(new Chart(app, 'cluster-local'), 'internal-api', {
    namespace: 'backend',
    visibility: Visibility.CLUSTER_LOCAL,
    containers: [{ image: 'ghcr.io/example/internal-api:1.4.2', port: 8081 }],
  });
}

/** gRPC needs end-to-end HTTP/2: the port is named h2c. */
export function grpc(app: App): KService {
  return new KService(new Chart(app, 'grpc'), 'greeter', {
    containers: [{ image: 'ghcr.io/example/grpc-greeter:1.0.0', port: 9000, portName: 'h2c' }],
  });
}

/** Kubernetes' HPA on CPU instead of the KPA (no scale to zero). */
export function hpaClass(app: App): KService {
  return new KService(new Chart(app, 'hpa-class'), 'cruncher', {
    containers: [
      {
        image: 'ghcr.io/example/cruncher:3.1.0',
        resources: { requests: { cpu: '500m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
      },
    ],
    autoscaling: {
      class: AutoscalingClass.HPA,
      metric: AutoscalingMetric.CPU,
      target: 75,
      minScale: 1,
      maxScale: 10,
      window: Duration.seconds(120),
    },
  });
}

/** Every KPA knob plus a concurrency limit, timeouts and an HTTP readiness probe. */
export function tunedAutoscaling(app: App): KService {
  return new KService(new Chart(app, 'tuned-autoscaling'), 'checkout', {
    namespace: 'shop',
    containerConcurrency: 10,
    timeout: Duration.seconds(120),
    responseStartTimeout: Duration.seconds(30),
    idleTimeout: Duration.seconds(60),
    templateAnnotations: { 'autoscaling.knative.dev/maxScale': '20' },
    autoscaling: {
      target: 8,
      targetUtilizationPercentage: 80,
      minScale: 1,
      initialScale: 2,
      activationScale: 2,
      window: Duration.seconds(30),
      panicWindowPercentage: 20,
      panicThresholdPercentage: 300,
      scaleDownDelay: Duration.minutes(1),
      scaleToZeroPodRetentionPeriod: Duration.seconds(0),
      targetBurstCapacity: 0,
    },
    containers: [
      {
        image: 'ghcr.io/example/checkout:5.0.0',
        readinessProbe: { httpGet: { path: '/healthz' }, periodSeconds: 5 },
        livenessProbe: { httpGet: { path: '/livez', port: 8080 } },
      },
    ],
  });
}

/** Config of the Gateway API examples: HTTPRoutes and Gateway API Gateways instead of Istio's objects. */
/**
 * Two data-plane modes side by side: `lean` has no queue-proxy sidecar and keeps the activator in
 * its path (scale to zero, concurrency limit and timeouts enforced by the activator); `edge` has
 * neither sidecar nor activator: its public Service selects two fixed replicas.
 */
export function dataPlaneModes(app: App): KService[] {
  const chart = new Chart(app, 'data-plane-modes');
  return [
    new KService(chart, 'lean', {
      namespace: 'modes',
      dataPlane: DataPlane.ACTIVATOR,
      containerConcurrency: 4,
      timeout: Duration.seconds(60),
      containers: [{ image: 'ghcr.io/example/lean:1.0.0', readinessProbe: { httpGet: { path: '/ready' } } }],
    }),
    new KService(chart, 'edge', {
      namespace: 'modes',
      dataPlane: DataPlane.DIRECT,
      autoscaling: { minScale: 2, maxScale: 2 },
      containers: [{ image: 'ghcr.io/example/edge:1.0.0' }],
    }),
  ];
}

export const GATEWAY_API_CONFIG: ServingConfigProps = { ingress: Ingress.GATEWAY_API };

/**
 * The canary split (90/10, the new revision also tagged `candidate`) on the Gateway API: one
 * HTTPRoute per traffic name and visibility. Its Gateways come from a ServingSystem with the same
 * config (`gatewayApiServingSystem`); the examples App's ServingSystem is the Istio one.
 */
export function gatewayApi(app: App): KService {
  return new KService(new Chart(app, 'gateway-api'), 'catalog', {
    namespace: 'shop',
    generation: 2,
    config: GATEWAY_API_CONFIG,
    containers: [{ image: 'ghcr.io/example/catalog:2.0.0', env: { RELEASE: 'v2' } }],
    revisions: [{ name: 'catalog-00001', containers: [{ image: 'ghcr.io/example/catalog:1.0.0', env: { RELEASE: 'v1' } }] }],
    traffic: [
      { revisionName: 'catalog-00001', percent: 90 },
      { latestRevision: true, percent: 10, tag: 'candidate' },
    ],
  });
}

/** A ServingSystem for the Gateway API: its two Gateways instead of the Istio ones. */
export function gatewayApiServingSystem(app: App): ServingSystem {
  return new ServingSystem(new Chart(app, 'serving-system'), 'serving', { config: GATEWAY_API_CONFIG });
}

/** An App with the Gateway API example and its ServingSystem (what a Gateway-API cluster gets). */
export function buildGatewayApiApp(props: AppProps = {}): App {
  const app = new App(props);
  gatewayApi(app);
  gatewayApiServingSystem(app);
  return app;
}

export function servingSystem(app: App): ServingSystem {
  return new ServingSystem(new Chart(app, 'serving-system'), 'serving');
}

export const EXAMPLES = { hello, canary, clusterLocal, grpc, hpaClass, tunedAutoscaling, gatewayApi, dataPlaneModes } as const;

/** One App with every example and the ServingSystem. */
export function buildExamplesApp(props: AppProps = {}): App {
  const app = new App(props);
  for (const build of Object.values(EXAMPLES)) build(app);
  servingSystem(app);
  return app;
}
