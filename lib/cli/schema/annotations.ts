/**
 * Annotations a revision template may carry (reference sections 7 and 11): every value is a string.
 * The autoscaling and queue-sidecar values are checked by the rules the constructs use
 * (`parseAutoscaling` in lib/contract/autoscaling.ts, lib/model/knative-rules.ts), so both front
 * ends give one message; only annotations the props have no rule for keep a pattern here.
 */
import { Schema, GO_DURATION, pattern } from '../../model/schema/builders';

const AUTOSCALING = 'autoscaling.knative.dev/';

const DURATION = pattern(GO_DURATION, 'must be a duration such as 30s, 5m or 1h');

/** Annotations of `spec.template.metadata` (and of Revision documents). */
export function revisionAnnotationsSchema(): Schema {
  const properties: Record<string, Schema> = {};
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
