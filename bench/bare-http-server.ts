/**
 * The floor under the serving bench's figures: a Node HTTP server that reads each POST body, parses it as JSON and
 * answers a canned body (the gateway's answer to the same request), with no GraphQL, no database and no hashing. Run
 * by the serve bench with the gateway's Node options and driven by the same load generator at the same rates, so that
 * its latencies are what this machine gives any Node HTTP service before it does any work of its own.
 * With `burnUs`, it also spins that many microseconds of CPU per request (half before, half after a macrotask hop),
 * to show what a given cost per request does to the tail on the same machine.
 * Started with `fork`: receives `{ answer, burnUs }` as its first message and replies with the port it listens on.
 */
import http from 'node:http';

function burn(us: number): void {
  const until = process.hrtime.bigint() + BigInt(Math.round(us * 1000));
  while (process.hrtime.bigint() < until);
}

process.once('message', ({ answer, burnUs }: { answer: string; burnUs: number }) => {
  const length = String(Buffer.byteLength(answer));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const respond = () => {
        burn(burnUs / 2);
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': length });
        res.end(answer);
      };
      if (burnUs > 0) {
        burn(burnUs / 2);
        setImmediate(respond);
      } else respond();
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send!(typeof address === 'object' && address ? address.port : -1);
  });
});
