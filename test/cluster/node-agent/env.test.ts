// Env resolution as the kubelet does it (table-driven; no cluster needed).
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { expandReferences, parseQuantity, resolveContainerEnv } from './env';

const pod: V1Pod = {
  metadata: { name: 'hello-00001-deployment-abc', namespace: 'default', uid: 'u-1', labels: { app: 'hello' } },
  spec: { nodeName: 'kservice-node', serviceAccountName: 'sa', containers: [] },
};
const sources = {
  podIP: '10.244.0.7',
  hostIP: '10.244.0.1',
  lookup: async (kind: string, _ns: string, name: string) => (kind === 'ConfigMap' && name === 'cm' ? { k: 'from-cm', other: 'x' } : undefined),
};

describe('resolveContainerEnv', () => {
  it.each<[string, V1Container['env'], Record<string, string>]>([
    ['plain values', [{ name: 'A', value: '1' }], { A: '1' }],
    ['references to earlier vars', [{ name: 'A', value: '8080' }, { name: 'B', value: ':$(A)/$(MISSING)' }], { A: '8080', B: ':8080/$(MISSING)' }],
    ['escaped references', [{ name: 'A', value: 'x' }, { name: 'B', value: '$$(A)' }], { A: 'x', B: '$(A)' }],
    ['downward API fields', [
      { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
      { name: 'LABEL', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
    ], { POD: 'hello-00001-deployment-abc', NS: 'default', IP: '10.244.0.7', HOST: '10.244.0.1', LABEL: 'hello' }],
    ['resource fields (limit / divisor, rounded up)', [
      { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1' } } },
      { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
    ], { CPU: '1', MEM: '600' }],
    ['ConfigMap keys', [{ name: 'K', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } }], { K: 'from-cm' }],
  ])('%s', async (_name, env, expected) => {
    const container: V1Container = { name: 'c', env, resources: { limits: { cpu: '1000m', memory: '600Mi' } } };
    expect(await resolveContainerEnv(pod, container, sources)).toEqual(expected);
  });

  it('reads envFrom with a prefix', async () => {
    const container: V1Container = { name: 'c', envFrom: [{ prefix: 'P_', configMapRef: { name: 'cm' } }] };
    expect(await resolveContainerEnv(pod, container, sources)).toEqual({ P_k: 'from-cm', P_other: 'x' });
  });

  it('names the variable when a required key is missing', async () => {
    const container: V1Container = { name: 'c', env: [{ name: 'K', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k' } } }] };
    await expect(resolveContainerEnv(pod, container, sources)).rejects.toThrow('env K: ConfigMap nope key k not found');
  });
});

describe('helpers', () => {
  it('expands only known names', () => {
    expect(expandReferences('$(A)-$(B)', { A: 'a' })).toBe('a-$(B)');
  });
  it.each([['500m', 0.5], ['2', 2], ['1Gi', 2 ** 30], ['60Mi', 60 * 2 ** 20], ['1k', 1000]])('parses quantity %s', (q, n) => {
    expect(parseQuantity(q)).toBe(n);
  });
});
