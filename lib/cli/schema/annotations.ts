/**
 * Annotations of a Service and of a revision template (reference sections 7 and 11): the schema
 * says only that every value is a string. Their value rules are the model's, so both front ends
 * give one message: `parseAutoscaling` (lib/contract/autoscaling.ts) and the annotation rules of
 * lib/model/knative-rules.ts (queue-sidecar resources, progress-deadline, http-full-duplex,
 * rollout-duration, no autoscaling annotations on the Service), run on the props the CLI builds.
 */
import type { Schema } from '../../model/schema/builders';

const stringValues = (): Schema => ({ type: 'object', additionalProperties: { type: 'string' } });

/** Annotations of `spec.template.metadata` (and of Revision documents). */
export function revisionAnnotationsSchema(): Schema {
  return stringValues();
}

/** Annotations of the Service itself. */
export function serviceAnnotationsSchema(): Schema {
  return stringValues();
}
