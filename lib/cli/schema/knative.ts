/**
 * JSON schemas of the `serving.knative.dev/v1` Service and Revision documents the compiler reads.
 * Field set and value rules follow knative/serving pkg/apis/serving/v1 (types, defaults and
 * validation) as summarised in the reference (sections 1, 6, 7, 11). Unknown fields are errors.
 * The schema states types, required and unknown fields; the value rules the construct props can
 * also carry (name formats, ranges, reserved ports and names, percents, tags, annotation values)
 * are the model's (lib/model/parse.ts, parse-revision.ts), run on the props the CLI builds, so both front
 * ends give one message. What only a document can say is in ../knative-checks.ts.
 */
import { revisionAnnotationsSchema, serviceAnnotationsSchema } from './annotations';
import {
  Schema, arrayOf, boolean, dnsLabel, integer, mapOf, object, ref, string,
} from '../../model/schema/builders';
import { podSpecDefinitions, podSpecProperties } from '../../model/schema/podspec';

export const SERVING_API_VERSION = 'serving.knative.dev/v1';

const labels = mapOf(string());

/** RevisionSpec: the PodSpec subset plus Knative's own fields (knative/serving pkg/apis/serving/v1/revision_types.go). */
const revisionSpec = object({
  ...podSpecProperties,
  containerConcurrency: integer(),
  // Negative seconds stay a schema rule: the props' cdk8s Duration cannot hold them.
  timeoutSeconds: integer(0),
  responseStartTimeoutSeconds: integer(0),
  idleTimeoutSeconds: integer(0),
}, ['containers']);

const templateMetadata = object({
  name: string(),
  labels,
  annotations: ref('RevisionAnnotations'),
});

const trafficTarget = object({
  tag: string(),
  revisionName: dnsLabel(),
  configurationName: string(),
  latestRevision: boolean,
  percent: integer(),
});

const definitions = {
  ...podSpecDefinitions,
  RevisionSpec: revisionSpec,
  RevisionAnnotations: revisionAnnotationsSchema(),
};

function kindHeader(kind: string): Record<string, Schema> {
  return {
    apiVersion: { const: SERVING_API_VERSION },
    kind: { const: kind },
  };
}

export const serviceSchema: Schema = {
  definitions,
  ...object(
    {
      ...kindHeader('Service'),
      metadata: object(
        { name: string(), namespace: string(), labels, annotations: serviceAnnotationsSchema() },
        ['name'],
      ),
      spec: object(
        {
          template: object({ metadata: templateMetadata, spec: ref('RevisionSpec') }, ['spec']),
          traffic: arrayOf(trafficTarget),
        },
        ['template'],
      ),
    },
    ['apiVersion', 'kind', 'metadata', 'spec'],
  ),
};

export const revisionSchema: Schema = {
  definitions,
  ...object(
    {
      ...kindHeader('Revision'),
      metadata: object(
        { name: dnsLabel(), namespace: dnsLabel(), labels, annotations: ref('RevisionAnnotations') },
        ['name', 'labels'],
      ),
      spec: ref('RevisionSpec'),
    },
    ['apiVersion', 'kind', 'metadata', 'spec'],
  ),
};
