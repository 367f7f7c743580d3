/**
 * Schema of the revision history file (`--history`): per service, the Configuration generation and
 * every revision the compiler has numbered, with the template it was made from.
 */
import { Schema, arrayOf, dnsLabel, integer, object } from '../../model/schema/builders';

export const HISTORY_API_VERSION = 'kservice.cdk8s.io/v1alpha1';
export const HISTORY_KIND = 'RevisionHistory';

const revision = object(
  {
    name: dnsLabel(),
    generation: integer(1),
    // The template was validated as part of its Service when it was recorded.
    template: object({ metadata: { type: 'object' }, spec: { type: 'object' } }, ['spec']),
  },
  ['name', 'generation', 'template'],
);

const service = object(
  {
    namespace: dnsLabel(),
    name: dnsLabel(),
    generation: integer(1),
    revisions: arrayOf(revision, { minItems: 1 }),
  },
  ['namespace', 'name', 'generation', 'revisions'],
);

export const historySchema: Schema = object(
  {
    apiVersion: { const: HISTORY_API_VERSION },
    kind: { const: HISTORY_KIND },
    services: arrayOf(service),
  },
  ['apiVersion', 'kind', 'services'],
);
