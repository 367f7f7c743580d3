/**
 * Value rules of the annotations a revision template may carry (reference sections 7 and 11),
 * written as patterns so ajv reports them with the annotation's own path. Cross-field rules
 * (max-scale >= min-scale, metric allowed for the class, duration ranges) are checked after the
 * schema, by `parseAutoscaling` in lib/contract/autoscaling.ts.
 */
import { Schema, GO_DURATION, QUANTITY, pattern } from '../../model/schema/builders';

const AUTOSCALING = 'autoscaling.knative.dev/';

const NON_NEGATIVE_INTEGER = pattern('^[0-9]+$', 'must be an integer >= 0');
const DURATION = pattern(GO_DURATION, 'must be a duration such as 30s, 5m or 1h');
const PERCENT_1_TO_100 = pattern(
  '^(100(\\.0*)?|0*[1-9][0-9]?(\\.[0-9]*)?)$',
  'must be a number in 1..100',
);

/** Canonical autoscaling annotation (without prefix) -> value rule. */
const autoscalingRules: Record<string, Schema> = {
  class: pattern(
    '^(kpa\\.autoscaling\\.knative\\.dev|hpa\\.autoscaling\\.knative\\.dev|(?!.*\\.knative\\.dev$).+)$',
    'must be kpa.autoscaling.knative.dev, hpa.autoscaling.knative.dev or a class outside knative.dev',
  ),
  metric: pattern('^\\S+$', 'must be a metric name such as concurrency, rps, cpu or memory'),
  target: pattern(
    '^(0*[1-9][0-9]*(\\.[0-9]*)?|0*\\.(0[1-9]|[1-9])[0-9]*)$',
    'must be a number >= 0.01',
  ),
  'target-utilization-percentage': PERCENT_1_TO_100,
  'min-scale': NON_NEGATIVE_INTEGER,
  'max-scale': NON_NEGATIVE_INTEGER,
  'initial-scale': NON_NEGATIVE_INTEGER,
  'activation-scale': pattern('^0*([2-9]|[1-9][0-9]+)$', 'must be an integer >= 2'),
  'scale-down-delay': DURATION,
  'scale-to-zero-pod-retention-period': DURATION,
  window: DURATION,
  'panic-window-percentage': PERCENT_1_TO_100,
  'panic-threshold-percentage': pattern(
    '^(1000(\\.0*)?|0*(11[0-9]|1[2-9][0-9]|[2-9][0-9]{2})(\\.[0-9]*)?)$',
    'must be a number in 110..1000',
  ),
  'target-burst-capacity': pattern(
    '^(-1(\\.0*)?|[0-9]+(\\.[0-9]*)?|\\.[0-9]+)$',
    'must be a number >= 0, or -1 (activator always in the path)',
  ),
  'metric-aggregation-algorithm': pattern(
    '^(linear|weighted-exponential)$',
    'must be linear or weighted-exponential',
  ),
};

/** Legacy camelCase spellings Knative still accepts (knative/serving pkg/apis/autoscaling/register.go). */
const aliases: Record<string, string> = {
  targetUtilizationPercentage: 'target-utilization-percentage',
  minScale: 'min-scale',
  maxScale: 'max-scale',
  initialScale: 'initial-scale',
  scaleDownDelay: 'scale-down-delay',
  scaleToZeroPodRetentionPeriod: 'scale-to-zero-pod-retention-period',
  panicWindowPercentage: 'panic-window-percentage',
  panicThresholdPercentage: 'panic-threshold-percentage',
  targetBurstCapacity: 'target-burst-capacity',
};

const QUEUE_SIDECAR = 'queue.sidecar.serving.knative.dev/';
const queueResourceKeys = ['cpu', 'memory', 'ephemeral-storage'].flatMap((r) => [
  `${r}-resource-request`,
  `${r}-resource-limit`,
]);
const quantityValue = pattern(QUANTITY, 'must be a Kubernetes quantity such as 100m, 0.5 or 256Mi');

/** Annotations of `spec.template.metadata` (and of Revision documents). */
export function revisionAnnotationsSchema(): Schema {
  const properties: Record<string, Schema> = {};
  for (const [key, rule] of Object.entries(autoscalingRules)) properties[AUTOSCALING + key] = rule;
  for (const [alias, key] of Object.entries(aliases)) properties[AUTOSCALING + alias] = autoscalingRules[key];
  for (const key of queueResourceKeys) properties[QUEUE_SIDECAR + key] = quantityValue;
  // Its range (0.1..100) is checked with the other queue-sidecar rules in lib/model/knative-rules.ts.
  properties[`${QUEUE_SIDECAR}resource-percentage`] = { type: 'string' };
  properties['serving.knative.dev/progress-deadline'] = DURATION;
  properties['features.knative.dev/http-full-duplex'] = pattern('^(Enabled|Disabled)$', 'must be Enabled or Disabled');
  return { type: 'object', properties, additionalProperties: { type: 'string' } };
}

/**
 * Annotations of the Service itself. Knative rejects autoscaling annotations here: they only take
 * effect on the revision template.
 */
export function serviceAnnotationsSchema(): Schema {
  return {
    type: 'object',
    properties: { 'serving.knative.dev/rollout-duration': DURATION },
    additionalProperties: { type: 'string' },
    propertyNames: {
      not: { pattern: '^autoscaling\\.knative\\.dev/' },
      hint: 'autoscaling annotations must be put under spec.template.metadata.annotations to take effect',
    },
  };
}

export const AUTOSCALING_PREFIX = AUTOSCALING;
