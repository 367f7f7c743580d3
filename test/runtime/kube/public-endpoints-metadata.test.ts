// The labels and annotations the autoscaler gives a public Endpoints object it creates (a GitOps
// engine left the compiled one out) are the compiled object's: both come from
// serverlessServiceMetadata (lib/contract/autoscaling.ts), the runtime's from the live
// Deployment's pod template. Here the live Deployment is the compiled one, as the API server
// stores it and as engines and controllers mark it, and the compiled Endpoints is the reference.
import { App, Chart } from 'cdk8s';
import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { DataPlane, KService, type KServiceProps } from '../../../lib';
import { serverlessServiceMetadata } from '../../../lib/contract/autoscaling';
import { Labels } from '../../../lib/contract/constants';
import { Names } from '../../../lib/contract/naming';

const IMAGE = 'ghcr.io/example/app:1';

interface Compiled {
  readonly deployment: V1Deployment;
  readonly endpoints: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } };
}

function compile(props: Partial<KServiceProps>): Compiled {
  const chart = new Chart(new App(), 'c');
  new KService(chart, 'svc', { namespace: 'ns', containers: [{ image: IMAGE }], ...props });
  const objects = chart.toJson() as Array<{ kind: string; metadata: { name: string } }>;
  const revision = 'svc-00001';
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === Names.deployment(revision)) as V1Deployment;
  const endpoints = objects.find((o) => o.kind === 'Endpoints' && o.metadata.name === Names.publicService(revision)) as Compiled['endpoints'];
  return { deployment, endpoints };
}

/** What the runtime computes from a live Deployment. */
function runtimeMetadata(d: V1Deployment) {
  return serverlessServiceMetadata(d.metadata!.labels![Labels.REVISION], 'Public', d.spec?.template?.metadata ?? {});
}

const cases: Array<{ name: string; props: Partial<KServiceProps> }> = [
  { name: 'defaults', props: {} },
  {
    name: 'user labels and annotations, an explicit metric (dropped, as Knative drops it from the SKS)',
    props: {
      templateLabels: { team: 'payments', 'app.kubernetes.io/part-of': 'shop' },
      templateAnnotations: { 'example.com/owner': 'alice', 'autoscaling.knative.dev/metric': 'rps', 'autoscaling.knative.dev/target': '50' },
    },
  },
  { name: 'data-plane mode activator', props: { dataPlane: DataPlane.ACTIVATOR } },
  { name: 'h2c', props: { containers: [{ image: IMAGE, port: 8080, portName: 'h2c' }] } },
];

describe('public Endpoints metadata: runtime from the live Deployment = compiled object', () => {
  for (const { name, props } of cases) {
    it(name, () => {
      const { deployment, endpoints } = compile(props);
      expect(endpoints, 'the graph has the Endpoints in this mode').toBeDefined();
      expect(runtimeMetadata(deployment)).toEqual({ labels: endpoints.metadata.labels ?? {}, annotations: endpoints.metadata.annotations ?? {} });
    });
  }

  it("ignores what engines, controllers and kubectl add: none of it is the revision's, and an engine must not find its own mark on an object it did not apply", () => {
    const { deployment, endpoints } = compile({ templateLabels: { team: 'payments' } });
    const live: V1Deployment = {
      ...deployment,
      metadata: {
        ...deployment.metadata,
        labels: {
          ...deployment.metadata?.labels,
          // Flux kustomize-controller's owner labels (fluxcd/pkg ssa SetOwnerLabels).
          'kustomize.toolkit.fluxcd.io/name': 'apps',
          'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
        },
        annotations: {
          ...deployment.metadata?.annotations,
          // Argo CD 3.x annotation tracking (docs/user-guide/resource_tracking.md).
          'argocd.argoproj.io/tracking-id': 'shop:apps/Deployment:ns/svc-00001-deployment',
          'kubectl.kubernetes.io/last-applied-configuration': '{}',
          'deployment.kubernetes.io/revision': '3',
        },
      },
      spec: {
        ...deployment.spec!,
        template: {
          ...deployment.spec!.template,
          // kubectl rollout restart marks the pod template.
          metadata: {
            ...deployment.spec!.template.metadata,
            annotations: { ...deployment.spec!.template.metadata?.annotations, 'kubectl.kubernetes.io/restartedAt': '2026-12-07T13:00:00Z' },
          },
        },
      },
    };
    const meta = runtimeMetadata(live);
    expect(meta).toEqual({ labels: endpoints.metadata.labels ?? {}, annotations: endpoints.metadata.annotations ?? {} });
    const keys = [...Object.keys(meta.labels), ...Object.keys(meta.annotations)];
    expect(keys.filter((k) => /argoproj\.io|fluxcd\.io|kubectl\.kubernetes\.io|deployment\.kubernetes\.io/.test(k))).toEqual([]);
  });
});
