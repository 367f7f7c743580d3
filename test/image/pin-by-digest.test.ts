/**
 * The image is pinned by the digest reference the build prints (dist-image/runtime.ref): the
 * constructs' `config.runtimeImage` prop and the CLI's `--config` `runtimeImage` both accept
 * `name@sha256:...` and put it, unchanged, on every runtime container (queue-proxy, activator,
 * autoscaler), leaving the tag reference nowhere.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_RUNTIME_IMAGE, KService, ServingSystem } from '../../lib';
import { REPO_ROOT } from '../support/runtime-bundle';
import { IMAGE_DIR } from '../support/runtime-image';
import { builtImage } from './support';

interface Manifest { kind: string; metadata: { name: string; namespace?: string }; spec?: { template?: { spec?: { containers?: { name: string; image: string }[] } } } }

let pinned: string;
let scratch: string;

beforeAll(() => {
  const image = builtImage();
  pinned = readFileSync(join(IMAGE_DIR, 'runtime.ref'), 'utf8').trim();
  // The printed reference is the tag's repository at the OCI manifest's digest.
  expect(pinned).toBe(`${DEFAULT_RUNTIME_IMAGE.slice(0, DEFAULT_RUNTIME_IMAGE.lastIndexOf(':'))}@${image.digest}`);
  scratch = mkdtempSync(join(tmpdir(), 'kservice-pin-'));
}, 600_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Image of every container named queue-proxy, activator or autoscaler, as `Deployment/container`. */
function runtimeImages(manifests: Manifest[]): Record<string, string> {
  const images: Record<string, string> = {};
  for (const m of manifests.filter((o) => o.kind === 'Deployment')) {
    for (const c of m.spec?.template?.spec?.containers ?? []) {
      if (['queue-proxy', 'activator', 'autoscaler'].includes(c.name)) images[`${m.metadata.name}/${c.name}`] = c.image;
    }
  }
  return images;
}

function expectPinnedEverywhere(manifests: Manifest[]): void {
  const images = runtimeImages(manifests);
  expect(Object.keys(images).sort()).toEqual(['activator/activator', 'autoscaler/autoscaler', 'hello-00001-deployment/queue-proxy']);
  expect(new Set(Object.values(images))).toEqual(new Set([pinned]));
  expect(JSON.stringify(manifests)).not.toContain(DEFAULT_RUNTIME_IMAGE);
}

describe('pinning the runtime image by digest', () => {
  it('constructs: the config prop (runtimeImage) of ServingSystem and KService', () => {
    const app = new App();
    const config = { runtimeImage: pinned };
    const system = new Chart(app, 'system');
    new ServingSystem(system, 'serving', { config });
    const services = new Chart(app, 'services');
    new KService(services, 'hello', { name: 'hello', containers: [{ image: 'ghcr.io/example/hello:1' }], config });
    expectPinnedEverywhere([...system.toJson(), ...services.toJson()] as Manifest[]);
  });

  it('CLI: --config with runtimeImage', () => {
    writeFileSync(join(scratch, 'hello.yaml'), 'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: hello\nspec:\n  template:\n    spec:\n      containers:\n        - image: ghcr.io/example/hello:1\n');
    writeFileSync(join(scratch, 'config.yaml'), `runtimeImage: ${pinned}\n`);
    const out = execFileSync(process.execPath, [join(REPO_ROOT, 'bin', 'kservice.js'), 'compile', join(scratch, 'hello.yaml'), '--config', join(scratch, 'config.yaml')], { encoding: 'utf8' });
    expectPinnedEverywhere(parseAllDocuments(out).map((d) => d.toJS() as Manifest));
  });
});
