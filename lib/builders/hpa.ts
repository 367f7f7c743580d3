/**
 * The `autoscaling/v2` HorizontalPodAutoscaler `REV` for revisions of class
 * `hpa.autoscaling.knative.dev`, as Knative's knative/serving pkg/reconciler/autoscaling/hpa/resources/hpa.go makes
 * it from the PodAutoscaler (whose labels and annotations it copies).
 */
import { AutoscalingAnnotations, Metric } from '../contract/autoscaling';
import { MAX_INT32 } from '../contract/constants';
import { Names } from '../contract/naming';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IHorizontalPodAutoscalerBehavior } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscalerBehavior';
import type { IHorizontalPodAutoscalerSpec } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscalerSpec';
import type { IMetricSpec } from 'kubernetes-models/autoscaling/v2/MetricSpec';
import { compact } from '../model/json';
import { deploymentAnnotations, revisionWorkloadLabels } from './meta';
import type { RevisionSpec } from '../model/spec';

export function buildHpa(rev: RevisionSpec): IHorizontalPodAutoscaler {
  const a = rev.autoscaling;
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      name: Names.podAutoscaler(rev.name),
      namespace: rev.namespace,
      labels: revisionWorkloadLabels(rev),
      // The PodAutoscaler's annotations (knative/serving pkg/reconciler/autoscaling/hpa/resources/hpa.go),
      // which are the revision's, as the Deployment's are.
      annotations: deploymentAnnotations(rev),
    },
    spec: compact<IHorizontalPodAutoscalerSpec>({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: Names.deployment(rev.name) },
      minReplicas: a.minScale > 0 ? a.minScale : undefined,
      maxReplicas: a.maxScale > 0 ? a.maxScale : MAX_INT32,
      metrics: hpaMetrics(a.metric, a.target),
      behavior: hpaBehavior(rev),
    }),
  };
}

/** Knative sets a metric only when a `target` annotation is given. */
export function hpaMetrics(metric: string, target: number | undefined): IMetricSpec[] | undefined {
  if (target === undefined) return undefined;
  switch (metric) {
    case Metric.CPU:
      return [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: Math.ceil(target) } } }];
    case Metric.MEMORY:
      return [{ type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: `${Math.trunc(target)}Mi` } } }];
    default:
      return [{ type: 'Pods', pods: { metric: { name: metric }, target: { type: 'AverageValue', averageValue: String(Math.trunc(target)) } } }];
  }
}

/** Only an explicit `window` annotation sets the stabilization windows. */
function hpaBehavior(rev: RevisionSpec): IHorizontalPodAutoscalerBehavior | undefined {
  if (!(AutoscalingAnnotations.WINDOW in rev.autoscalingAnnotations)) return undefined;
  const window = { stabilizationWindowSeconds: rev.autoscaling.stableWindowSeconds };
  return { scaleDown: window, scaleUp: { ...window } };
}
