/**
 * The private Service `REV-private`, as Knative's knative/serving
 * pkg/reconciler/serverlessservice/resources/services.go builds it. It selects the revision's pods (on `serving.knative.dev/revision`, our stand-in for
 * revisionUID) and gives the autoscaler and activator a way to find them.
 */
import { Ports } from '../contract/constants';
import { hasQueueProxy } from '../contract/data-plane';
import { Names } from '../contract/naming';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServicePort } from 'kubernetes-models/v1/ServicePort';
import { revisionSelector, serverlessServiceMeta } from './meta';
import { H2C_APP_PROTOCOL, queueServingPort, servicePortName, type RevisionSpec } from '../model/spec';

export function buildPrivateService(rev: RevisionSpec): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: Names.privateService(rev.name),
      namespace: rev.namespace,
      ...serverlessServiceMeta(rev, 'Private'),
    },
    spec: {
      type: 'ClusterIP',
      selector: revisionSelector(rev),
      ports: privateServicePorts(rev),
    },
  };
}

export function privateServicePorts(rev: RevisionSpec): IServicePort[] {
  return hasQueueProxy(rev.dataPlane) ? queueProxyPorts(rev) : appPorts(rev);
}

/**
 * Without the queue-proxy (modes `activator`, `direct`) the pods serve on the app's port only: no
 * TLS port, no metrics ports. The activator sends to the addresses these Endpoints list.
 */
function appPorts(rev: RevisionSpec): IServicePort[] {
  const h2c = rev.protocol === 'h2c';
  const main: IServicePort = {
    name: servicePortName(rev),
    protocol: 'TCP',
    ...(h2c ? { appProtocol: H2C_APP_PROTOCOL } : {}),
    port: Ports.SERVICE_HTTP,
    targetPort: rev.userPort,
  };
  // The Istio mirror, unless it would repeat port 80.
  const mirror: IServicePort = { name: h2c ? 'http2-istio' : 'http-istio', protocol: 'TCP', port: rev.userPort, targetPort: rev.userPort };
  return rev.userPort === Ports.SERVICE_HTTP ? [main] : [main, mirror];
}

function queueProxyPorts(rev: RevisionSpec): IServicePort[] {
  const h2c = rev.protocol === 'h2c';
  const main = queueServingPort(rev);
  return [
    {
      name: servicePortName(rev),
      protocol: 'TCP',
      ...(h2c ? { appProtocol: H2C_APP_PROTOCOL } : {}),
      port: Ports.SERVICE_HTTP,
      targetPort: main,
    },
    { name: 'https', protocol: 'TCP', port: Ports.SERVICE_HTTPS, targetPort: Ports.QUEUE_HTTPS },
    { name: 'http-autometric', protocol: 'TCP', port: Ports.QUEUE_METRICS, targetPort: 'http-autometric' },
    { name: 'http-usermetric', protocol: 'TCP', port: Ports.QUEUE_USER_METRICS, targetPort: 'http-usermetric' },
    // Mirror port so Istio opens a listener for the pod's serving port.
    { name: h2c ? 'http2-istio' : 'http-istio', protocol: 'TCP', port: main, targetPort: main },
  ];
}
