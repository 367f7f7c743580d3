import type { KServiceProps } from '../../../lib';
import type { RevisionSpec, ServiceSpec } from '../../../lib/model/spec';
import { compileServiceSpec } from '../../../lib/model/parse';

export const IMAGE = 'ghcr.io/example/app:1';

/** A validated model for props, as KService would build it. */
export function serviceSpec(props: Partial<KServiceProps> = {}, name = 'svc'): ServiceSpec {
  return compileServiceSpec({ containers: [{ image: IMAGE }], ...props }, name);
}

/** The current template's revision. */
export function revisionSpec(props: Partial<KServiceProps> = {}, name = 'svc'): RevisionSpec {
  return serviceSpec(props, name).revisions[0];
}
