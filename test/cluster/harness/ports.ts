// Free TCP ports on 127.0.0.1 for the control-plane components.
import { createServer } from 'node:net';

/**
 * A port that was free a moment ago: the kernel picks it for a listener on
 * port 0, which is then closed. Another process could take it in between;
 * startControlPlane retries the whole start once when a component fails to bind.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
