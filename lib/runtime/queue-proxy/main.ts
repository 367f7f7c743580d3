/**
 * `kservice-runtime queue-proxy`: the sidecar in every revision pod.
 */
import { createLogger } from '../shared/logger';
import { IGNORED_KNATIVE_ENV, ignoredKnativeEnv, readQueueProxyConfig } from './config';
import { QueueProxy } from './server';

/** Runs until SIGTERM has drained the queue-proxy; throws ConfigError for a bad environment. */
export async function runQueueProxy(env: NodeJS.ProcessEnv): Promise<void> {
  const config = readQueueProxyConfig(env);
  const logger = createLogger('queue-proxy', {
    level: config.logLevel,
    base: { namespace: config.namespace, revision: config.revision, pod: config.pod },
  });
  for (const name of ignoredKnativeEnv(env)) logger.debug({ variable: name, why: IGNORED_KNATIVE_ENV[name] }, 'ignored');
  const queueProxy = new QueueProxy(config, logger);
  const ports = await queueProxy.listen();
  logger.info(
    {
      ports,
      protocol: config.protocol,
      userPort: config.userPort,
      containerConcurrency: config.containerConcurrency,
      tls: 'not served',
    },
    'listening',
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => {
      queueProxy.terminate().then(resolve, (err: Error) => {
        logger.error({ err }, 'shutdown failed');
        resolve();
      });
    });
  });
  logger.info('stopped');
}
