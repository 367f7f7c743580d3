import * as http from 'node:http';
import type * as net from 'node:net';
import { DEFAULT_CONNECTION_LIMITS } from './connection-limits';

/**
 * Listens and resolves with the bound port (port 0 picks a free one, which the tests rely on).
 * Every listener is capped (connection-limits.ts `connectionCap`): without a cap, connections a
 * client opens and leaves idle cost memory until the process runs out. A listener given no cap
 * has the default HTTP/1 one.
 */
export function listenOn(
  server: net.Server,
  port: number,
  host: string | undefined,
  maxConnections: number = DEFAULT_CONNECTION_LIMITS.maxHttp1Connections,
): Promise<number> {
  server.maxConnections = maxConnections;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/**
 * Stops accepting and resolves once every connection has ended. `dropConnections` also closes the
 * open ones, for servers whose in-flight requests need no draining (metrics, admin, poke).
 */
export function closeServer(server: net.Server, dropConnections = false): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    if (dropConnections && server instanceof http.Server) server.closeAllConnections();
  });
}
