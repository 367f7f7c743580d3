import * as http from 'node:http';
import type * as net from 'node:net';

/** Listens and resolves with the bound port (port 0 picks a free one, which the tests rely on). */
export function listenOn(server: net.Server, port: number, host: string | undefined): Promise<number> {
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
