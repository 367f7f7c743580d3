/**
 * The public Service `REV` (knative/serving pkg/reconciler/serverlessservice/resources/services.go): the address the VirtualServices route to.
 *
 * With the runtime data plane it has no selector and the runtime writes its Endpoints (activator
 * IPs at zero, pod IPs when serving), exactly like Knative's SKS. With the static data plane it
 * selects the revision's pods, the static equivalent of permanent Serve mode (knative/serving
 * pkg/reconciler/serverlessservice/serverlessservice.go switches between the two). Data-plane mode
 * `activator` is shaped like the runtime data plane (the Endpoints always hold the activators);
 * `direct` selects the pods like static but targets the app's port, as no queue-proxy is there.
 */
import { DataPlaneModes, selectsPods } from '../contract/data-plane';
import { Ports } from '../contract/constants';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServicePort } from 'kubernetes-models/v1/ServicePort';
import { revisionSelector, serverlessServiceMeta } from './meta';
import { H2C_APP_PROTOCOL, publicServicePort, queueServingPort, servicePortName, type RevisionSpec } from '../model/spec';

export function buildPublicService(rev: RevisionSpec): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: rev.name,
      namespace: rev.namespace,
      ...serverlessServiceMeta(rev, 'Public'),
    },
    spec: {
      type: 'ClusterIP',
      ...(selectsPods(rev.dataPlane) ? { selector: revisionSelector(rev) } : {}),
      ports: publicServicePorts(rev),
    },
  };
}

export function publicServicePorts(rev: RevisionSpec): IServicePort[] {
  const direct = rev.dataPlane === DataPlaneModes.DIRECT;
  const main: IServicePort = {
    name: servicePortName(rev),
    protocol: 'TCP',
    ...(rev.protocol === 'h2c' ? { appProtocol: H2C_APP_PROTOCOL } : {}),
    port: publicServicePort(rev),
    targetPort: direct ? rev.userPort : queueServingPort(rev),
  };
  // Nothing in a direct-mode pod terminates TLS (that is the queue-proxy's port 8112).
  return direct ? [main] : [main, { name: 'https', protocol: 'TCP', port: Ports.SERVICE_HTTPS, targetPort: Ports.QUEUE_HTTPS }];
}
