/**
 * JSON schemas of the `serving.knative.dev/v1` Service and Revision documents the compiler reads.
 * Field set and value rules follow knative/serving pkg/apis/serving/v1 (types, defaults and
 * validation) as summarised in the reference (sections 1, 6, 7, 11). Unknown fields are errors.
 * Rules that span fields (percents summing to 100, unique tags, ...) live in ../knative-checks.ts.
 */
import { RevisionDefaults } from '../../contract/constants';
import { revisionAnnotationsSchema, serviceAnnotationsSchema } from './annotations';
import {
  Schema, DNS1035_LABEL, DNS1035_LABEL_HINT, arrayOf, boolean, dnsLabel, integer, mapOf, object, ref, string,
} from '../../model/schema/builders';
import { podSpecDefinitions, podSpecProperties } from '../../model/schema/podspec';

export const SERVING_API_VERSION = 'serving.knative.dev/v1';

const labels = mapOf(string());

const serviceLabels: Schema = {
  ...labels,
  properties: {
    'networking.knative.dev/visibility': {
      type: 'string',
      enum: ['cluster-local'],
      hint: 'must be cluster-local (omit the label for external visibility)',
    },
  },
};

/** RevisionSpec: the PodSpec subset plus Knative's own fields (knative/serving pkg/apis/serving/v1/revision_types.go). */
const revisionSpec = object({
  ...podSpecProperties,
  containerConcurrency: integer(0, RevisionDefaults.CONTAINER_CONCURRENCY_MAX),
  timeoutSeconds: integer(0),
  responseStartTimeoutSeconds: integer(0),
  idleTimeoutSeconds: integer(0),
}, ['containers']);

const templateMetadata = object({
  name: dnsLabel(),
  labels,
  annotations: ref('RevisionAnnotations'),
});

/** Service names become Kubernetes Service names, which must be DNS-1035 labels. */
function dns1035Label(): Schema {
  return { type: 'string', pattern: DNS1035_LABEL, maxLength: 63, hint: DNS1035_LABEL_HINT };
}

const trafficTarget = object({
  tag: dns1035Label(),
  revisionName: dnsLabel(),
  configurationName: string(),
  latestRevision: boolean,
  percent: integer(0, 100),
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
        { name: dns1035Label(), namespace: dnsLabel(), labels: serviceLabels, annotations: serviceAnnotationsSchema() },
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
