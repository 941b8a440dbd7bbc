import net from 'node:net';
import { PortInUseError } from '../../src/services/errors';
import { assertPortFree, findFreePort, freePortRange, isTcpOpen, waitForTcp } from '../../src/services/ports';

function listen(port = 0): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port;

describe('assertPortFree', () => {
  it('passes for a free port and for port 0', async () => {
    await expect(assertPortFree(await findFreePort(), 'OFP_PG_PORT')).resolves.toBeUndefined();
    await expect(assertPortFree(0, 'OFP_PG_PORT')).resolves.toBeUndefined();
  });

  it('throws PortInUseError naming the port and the variable to change', async () => {
    const server = await listen();
    const port = portOf(server);
    try {
      const err = await assertPortFree(port, 'OFP_PG_PORT').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortInUseError);
      expect((err as PortInUseError).message).toBe(`port ${port} is in use; set OFP_PG_PORT to another port`);
      expect((err as PortInUseError).variable).toBe('OFP_PG_PORT');
    } finally {
      server.close();
    }
  });

  it('sees a listener on all interfaces as a conflict too', async () => {
    const server = await new Promise<net.Server>((resolve) => {
      const s = net.createServer();
      s.listen(0, '0.0.0.0', () => resolve(s));
    });
    try {
      await expect(assertPortFree(portOf(server), 'OFP_HTTP_PORT')).rejects.toBeInstanceOf(PortInUseError);
    } finally {
      server.close();
    }
  });
});

describe('waitForTcp', () => {
  it('resolves once something listens', async () => {
    const port = await findFreePort();
    const later = new Promise<net.Server>((resolve) => setTimeout(() => resolve(listen(port)), 300));
    await waitForTcp('127.0.0.1', port, 5000);
    (await later).close();
  });

  it('times out with a message naming the address', async () => {
    const port = await findFreePort();
    await expect(waitForTcp('127.0.0.1', port, 300)).rejects.toThrow(
      `nothing accepted connections on 127.0.0.1:${port}`,
    );
    expect(await isTcpOpen('127.0.0.1', port)).toBe(false);
  });
});

describe('findFreePort', () => {
  it('draws listenable ports from below the ephemeral range, which outgoing connections never take', async () => {
    const range = freePortRange();
    expect(range.high - range.low).toBeGreaterThanOrEqual(1000);
    const ports = await Promise.all(Array.from({ length: 20 }, () => findFreePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(range.low);
      expect(port).toBeLessThanOrEqual(range.high);
      const server = await listen(port);
      server.close();
    }
    // Drawn at random: twenty draws are not all the same port.
    expect(new Set(ports).size).toBeGreaterThan(1);
  });
});
