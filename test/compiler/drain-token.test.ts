/**
 * The preStop drain token (lib/builders/drain-token.ts): the hook and the queue-proxy carry the
 * same value; it is deterministic and changes with the revision and its spec.
 */
import { describe, expect, it } from 'vitest';
import { DRAIN_TOKEN_ENV, DRAIN_TOKEN_HEADER } from '../../lib/contract/constants';
import { drainToken } from '../../lib/builders/drain-token';
import { queueProxyEnv } from '../../lib/builders/queue-proxy-container';
import { buildUserContainers } from '../../lib/builders/user-container';
import { revisionSpec } from './support/spec';

const hookToken = (spec: ReturnType<typeof revisionSpec>) =>
  buildUserContainers(spec)[0].lifecycle?.preStop?.httpGet?.httpHeaders?.find((h) => h.name === DRAIN_TOKEN_HEADER)?.value;
const envToken = (spec: ReturnType<typeof revisionSpec>) => queueProxyEnv(spec).find((e) => e.name === DRAIN_TOKEN_ENV)?.value;

describe('drain token', () => {
  it('the preStop hook sends what the queue-proxy expects', () => {
    const spec = revisionSpec();
    expect(hookToken(spec)).toMatch(/^[0-9a-f]{32}$/);
    expect(envToken(spec)).toBe(hookToken(spec));
  });

  it('is deterministic: the same input gives the same token', () => {
    expect(drainToken(revisionSpec())).toBe(drainToken(revisionSpec()));
  });

  it('depends on the revision and on its spec, not only on public names', () => {
    const base = drainToken(revisionSpec());
    expect(drainToken(revisionSpec({}, 'other'))).not.toBe(base);
    expect(drainToken(revisionSpec({ containers: [{ image: 'registry.example/else' }] }))).not.toBe(base);
    expect(drainToken(revisionSpec(), 'a secret')).not.toBe(base);
    expect(drainToken(revisionSpec(), 'a secret')).toBe(drainToken(revisionSpec(), 'a secret'));
  });

  it('does not change with what is outside the pod template (no restart for a config-autoscaler edit)', () => {
    const spec = revisionSpec();
    const elsewhere = { ...spec, progressDeadlineSeconds: spec.progressDeadlineSeconds + 60, autoscaling: { ...spec.autoscaling, target: 7 } };
    expect(drainToken(elsewhere)).toBe(drainToken(spec));
  });
});
