/**
 * The public Service `REV` (knative/serving pkg/reconciler/serverlessservice/resources/services.go): the address the VirtualServices route to.
 *
 * With the runtime data plane it has no selector and the runtime writes its Endpoints (activator
 * IPs at zero, pod IPs when serving), exactly like Knative's SKS. With the static data plane it
 * selects the revision's pods, the static equivalent of permanent Serve mode (knative/serving
 * pkg/reconciler/serverlessservice/serverlessservice.go switches between the two).
 */
import { Ports } from '../contract/constants';
import type { Json } from '../model/json';
import { revisionSelector, serverlessServiceAnnotations, serverlessServiceLabels } from './meta';
import { H2C_APP_PROTOCOL, publicServicePort, queueServingPort, servicePortName, type RevisionSpec } from '../model/spec';

export function buildPublicService(rev: RevisionSpec): Json {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: rev.name,
      namespace: rev.namespace,
      labels: serverlessServiceLabels(rev, 'Public'),
      annotations: serverlessServiceAnnotations(rev),
    },
    spec: {
      type: 'ClusterIP',
      ...(rev.dataPlane === 'static' ? { selector: revisionSelector(rev) } : {}),
      ports: publicServicePorts(rev),
    },
  };
}

export function publicServicePorts(rev: RevisionSpec): Json[] {
  return [
    {
      name: servicePortName(rev),
      protocol: 'TCP',
      ...(rev.protocol === 'h2c' ? { appProtocol: H2C_APP_PROTOCOL } : {}),
      port: publicServicePort(rev),
      targetPort: queueServingPort(rev),
    },
    { name: 'https', protocol: 'TCP', port: Ports.SERVICE_HTTPS, targetPort: Ports.QUEUE_HTTPS },
  ];
}
