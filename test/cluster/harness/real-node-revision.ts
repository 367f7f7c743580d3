// A compiled revision for the real node: the Deployment the compiler emits for a KService with
// min-scale 1, pinned to the images imported into the node's containerd (the runtime image and the
// test app), with one test tuning: the queue-proxy's drain is QUEUE_DRAIN_SECONDS (Knative's
// default 30 s) so a scale-down completes in seconds. Used by scenarios/real-node.test.ts and the
// bench's cold start on the real node (bench/realnode).
import { App, Chart } from 'cdk8s';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { QUEUE_CONTAINER_NAME } from '../../../lib/contract/constants';
import { Names } from '../../../lib/contract/naming';
import { KService } from '../../../lib/constructs/kservice';
import { ServingSystem } from '../../../lib/constructs/serving-system';
import type { ImportedImage } from './real-node';

export interface RevisionOptions {
  readonly namespace: string;
  /** KService name; the revision is `<service>-00001`. */
  readonly service: string;
  readonly runtime: ImportedImage;
  readonly app: ImportedImage;
  /** Environment of the user container (test-app.mjs reads START_DELAY_MS, ...). */
  readonly appEnv?: Readonly<Record<string, string>>;
  /** @default 2 */
  readonly drainSeconds?: number;
}

export function revisionName(service: string): string {
  return `${service}-00001`;
}

/** The revision's Deployment as compiled (validations included), plus the drain tuning. */
export function compiledRevisionDeployment(o: RevisionOptions): V1Deployment {
  const config = { runtimeImage: o.runtime.ref };
  const app = new App({ outdir: '/nonexistent-not-written' });
  const chart = new Chart(app, 'real-node');
  new ServingSystem(chart, 'system', { config });
  new KService(chart, o.service, {
    namespace: o.namespace, config, containers: [{ image: o.app.ref, env: { ...o.appEnv } }], autoscaling: { minScale: 1 },
  });
  const objects = parseAllDocuments(app.synthYaml()).map((d) => d.toJS() as KubernetesObject);
  const name = Names.deployment(revisionName(o.service));
  const deployment = objects.find((x) => x.kind === 'Deployment' && x.metadata?.name === name) as V1Deployment | undefined;
  if (!deployment) throw new Error(`the compiled app has no Deployment ${name}`);
  const queue = deployment.spec?.template.spec?.containers.find((c) => c.name === QUEUE_CONTAINER_NAME);
  if (!queue) throw new Error(`Deployment ${name} has no ${QUEUE_CONTAINER_NAME} container`);
  queue.env = [...(queue.env ?? []), { name: 'QUEUE_DRAIN_SECONDS', value: String(o.drainSeconds ?? 2) }];
  return deployment;
}
