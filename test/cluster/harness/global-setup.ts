// vitest globalSetup for the cluster suite: builds the control-plane binaries
// when they are missing, so `npm run test:cluster` works from a fresh clone, and
// the runtime image (npm run image) when it is missing or stale, unpacked once
// here: the node agent runs the runtime pods from it.
import { ensureRuntimeImage, unpackImage } from '../../support/runtime-image';
import { ensureBinaries } from './binaries';
import { ensureCertManagerController } from './cert-manager';
import { ensureNetBinaries } from './net-binaries';
import { ensureNodeBinaries } from './node-binaries';

export default async function setup(): Promise<void> {
  const bins = await ensureBinaries();
  process.stderr.write(`control-plane binaries: ${bins.dir}\n`);
  // kube-proxy, CoreDNS and Traefik for test/cluster/network-path*.test.ts (scripts/build-net-components.sh).
  const net = await ensureNetBinaries();
  process.stderr.write(`network components: ${Object.values(net).join(', ')}\n`);
  // cert-manager's controller for test/cluster/cert-manager.test.ts (scripts/build-cert-manager.sh).
  process.stderr.write(`cert-manager controller: ${await ensureCertManagerController()}\n`);
  // kubelet, kube-scheduler, containerd, runc, CNI plugins, pause image for the real node (scripts/build-node.sh).
  const node = await ensureNodeBinaries();
  process.stderr.write(`real node: ${node.kubelet}, ${node.containerd}, ${node.runc}\n`);
  const image = unpackImage(ensureRuntimeImage());
  process.stderr.write(`runtime image: ${image.digest}, root filesystem ${image.rootfs}\n`);
}
