// The Node object of the agent: registered Ready with capacity and addresses, then kept alive by
// refreshing the Ready condition's heartbeat, so the node lifecycle controller neither taints the
// node nor evicts its pods. (A kubelet also renews a Lease in kube-node-lease; the controller
// accepts either heartbeat, and the status one avoids MicroTime serialisation quirks.)
import { ApiException, CoreV1Api, type KubeConfig, type V1Node, type V1NodeCondition } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

export interface NodeRegistrationOptions {
  readonly name: string;
  readonly internalIP: string;
  /** Default 5000; the controller's grace period is 50 s. */
  readonly heartbeatMs?: number;
}

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function conditions(now: Date, since: Date): V1NodeCondition[] {
  const ok = (type: string, reason: string): V1NodeCondition => ({
    type, status: 'False', reason, message: 'node agent', lastHeartbeatTime: now, lastTransitionTime: since,
  });
  return [
    { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'node agent is posting ready status', lastHeartbeatTime: now, lastTransitionTime: since },
    ok('MemoryPressure', 'KubeletHasSufficientMemory'),
    ok('DiskPressure', 'KubeletHasNoDiskPressure'),
    ok('PIDPressure', 'KubeletHasSufficientPID'),
  ];
}

function nodeObject(opts: NodeRegistrationOptions, since = new Date()): V1Node {
  const capacity = { cpu: '2', memory: '8Gi', pods: '110', 'ephemeral-storage': '20Gi' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: opts.name, labels: { 'kubernetes.io/hostname': opts.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' } },
    spec: {},
    status: {
      capacity,
      allocatable: capacity,
      addresses: [{ type: 'InternalIP', address: opts.internalIP }, { type: 'Hostname', address: opts.name }],
      conditions: conditions(new Date(), since),
      nodeInfo: {
        machineID: 'kservice-test', systemUUID: 'kservice-test', bootID: 'kservice-test', kernelVersion: 'host',
        osImage: 'kservice node agent', containerRuntimeVersion: 'process://local', kubeletVersion: 'v1.36.3',
        kubeProxyVersion: '', operatingSystem: 'linux', architecture: 'amd64',
      },
    },
  };
}

export class NodeRegistration {
  static async register(kc: KubeConfig, opts: NodeRegistrationOptions): Promise<NodeRegistration> {
    const core = kc.makeApiClient(CoreV1Api);
    const node = nodeObject(opts);
    try {
      await core.createNode({ body: node });
    } catch (e) {
      if (!(e instanceof ApiException && e.code === 409)) throw e;
    }
    const reg = new NodeRegistration(core, opts);
    await reg.heartbeat();
    reg.timer = setInterval(() => void reg.heartbeat().catch(() => undefined), opts.heartbeatMs ?? 5000);
    return reg;
  }

  private timer: NodeJS.Timeout | undefined;
  private readonly registeredAt = new Date();

  private constructor(private readonly core: CoreV1Api, private readonly opts: NodeRegistrationOptions) {}

  /** Posts the whole status: create may drop it, and this also refreshes the heartbeat. */
  async heartbeat(): Promise<void> {
    const { status } = nodeObject(this.opts, this.registeredAt);
    await this.core.patchNodeStatus({ name: this.opts.name, body: { status } }, MERGE_PATCH);
  }

  /** Stops the heartbeat and deletes the Node. */
  async deregister(): Promise<void> {
    clearInterval(this.timer);
    await this.core.deleteNode({ name: this.opts.name }).catch(() => undefined);
  }
}
