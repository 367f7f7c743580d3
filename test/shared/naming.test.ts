import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { childName, generationOfRevisionName, isDns1035Label, Names } from '../../lib/contract/naming';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('childName (Knative kmeta.ChildName)', () => {
  it('joins when the result fits in 63 characters', () => {
    expect(childName('hello-00001', '-deployment')).toBe('hello-00001-deployment');
  });

  it('shortens a long parent with its md5 so the result is exactly 63 characters', () => {
    const parent = 'a'.repeat(60);
    const name = childName(parent, '-deployment');
    expect(name).toBe('a'.repeat(31 - '-deployment'.length) + md5(parent) + '-deployment');
    expect(name).toHaveLength(63);
  });

  it('is deterministic and distinguishes parents that share a prefix', () => {
    const a = childName('x'.repeat(50) + 'one', '-private');
    const b = childName('x'.repeat(50) + 'two', '-private');
    expect(a).toBe(childName('x'.repeat(50) + 'one', '-private'));
    expect(a).not.toBe(b);
  });

  it('hashes everything when the suffix alone is 31 characters or more', () => {
    const parent = 'p'.repeat(30);
    const suffix = '-' + 's'.repeat(40);
    const name = childName(parent, suffix);
    expect(name).toBe(parent + md5(parent + suffix));
    expect(name.length).toBeLessThanOrEqual(63);
  });
});

describe('Names', () => {
  it('numbers revisions with five digits', () => {
    expect(Names.revision('hello', 1)).toBe('hello-00001');
    expect(Names.revision('hello', 123)).toBe('hello-00123');
  });

  it('names every child of a revision and a route', () => {
    expect(Names.deployment('hello-00001')).toBe('hello-00001-deployment');
    expect(Names.privateService('hello-00001')).toBe('hello-00001-private');
    expect(Names.publicService('hello-00001')).toBe('hello-00001');
    expect(Names.ingressVirtualService('hello')).toBe('hello-ingress');
    expect(Names.meshVirtualService('hello')).toBe('hello-mesh');
  });

  it('checks DNS-1035 labels', () => {
    expect(isDns1035Label('canary')).toBe(true);
    expect(isDns1035Label('1canary')).toBe(false);
    expect(isDns1035Label('Canary')).toBe(false);
    expect(isDns1035Label('a'.repeat(64))).toBe(false);
  });
});

describe('generationOfRevisionName (one rule for the names Knative generates)', () => {
  it('reads five digits or more, as %05d writes them', () => {
    expect(generationOfRevisionName('hello', 'hello-00003')).toBe(3);
    expect(generationOfRevisionName('hello', 'hello-123456')).toBe(123456);
  });

  it('takes only a name that its own generation gives back', () => {
    for (const name of ['hello-0001', 'hello-012345', 'hello-00003x', 'hello-blue', 'other-00003', 'hello2-00003']) {
      expect(generationOfRevisionName('hello', name), name).toBeUndefined();
    }
  });

  it('reads the hash-shortened names of a long service name', () => {
    const service = 's'.repeat(60);
    const name = Names.revision(service, 7);
    expect(name.startsWith(service)).toBe(false);
    expect(generationOfRevisionName(service, name)).toBe(7);
  });
});
