// Webhook receiver for Tessera's integration tests: takes every delivery on loopback, verifies it with the
// official Standard Webhooks library (npm standardwebhooks) and the secret given at start, and keeps it in memory.
//
//   node server.js [PORT]       (0 = any free port; env WEBHOOK_SECRET = the whsec_... secret, required;
//                                env CLOCK_OFFSET_SECONDS = this receiver's clock ahead of the real one;
//                                env EXIT_WITH_STDIN=1: exit when stdin closes)
//
// HTTP on 127.0.0.1:PORT:
//   POST   /hooks/...   a delivery: recorded, then answered with the current mode's status (200 unless told)
//   GET    /received    -> [{ path, webhookId, timestamp, verified, error, type, status, headers, body, receivedAt }] oldest first
//   DELETE /received    -> clears them (204)
//   POST   /mode        {"status": 503} answers deliveries with that status from now on; {"clockOffsetSeconds": n} moves
//                       this receiver's clock (the test host's clock is moved too, and the library checks the timestamp)
//   POST   /verify      {"headers": {...}, "body": "..."} -> {"verified": true|false, "error": "..."}
// Prints exactly one line "READY port=PORT" on stdout once it listens.
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid PORT: ${process.argv[2]}`);
  process.exit(2);
}
const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error('WEBHOOK_SECRET is required');
  process.exit(2);
}
const webhook = new Webhook(secret);

// The library checks webhook-timestamp against Date.now() (5 minutes either way). Tests move Tessera's clock
// forward by hours; the receiver's clock moves with it, as two servers with synchronised clocks would.
let clockOffsetMs = Number(process.env.CLOCK_OFFSET_SECONDS ?? 0) * 1000;
const realNow = Date.now.bind(Date);
Date.now = () => realNow() + clockOffsetMs;

let status = 200;
const received = [];

const verify = (headers, body) => {
  try {
    webhook.verify(body, headers);
    return { verified: true, error: null };
  } catch (err) {
    return { verified: false, error: err.message };
  }
};

const readBody = (req) => new Promise((resolve, reject) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  req.on('error', reject);
});

const json = (res, code, value) => {
  res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(value));
};

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  try {
    if (path.startsWith('/hooks/') && req.method === 'POST') {
      const body = await readBody(req);
      const headers = {
        'webhook-id': req.headers['webhook-id'] ?? null,
        'webhook-timestamp': req.headers['webhook-timestamp'] ?? null,
        'webhook-signature': req.headers['webhook-signature'] ?? null,
        'content-type': req.headers['content-type'] ?? null,
        'user-agent': req.headers['user-agent'] ?? null,
        cookie: req.headers.cookie ?? null,
      };
      const outcome = verify(headers, body);
      let type = null;
      try {
        type = JSON.parse(body).type ?? null;
      } catch {
        type = null;
      }
      received.push({
        path,
        webhookId: headers['webhook-id'],
        timestamp: headers['webhook-timestamp'],
        verified: outcome.verified,
        error: outcome.error,
        type,
        status,
        headers,
        body,
        receivedAt: new Date(realNow()).toISOString(),
      });
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status >= 200 && status < 300 ? 'ok' : 'receiver told to fail');
    } else if (path === '/received' && req.method === 'GET') {
      json(res, 200, received);
    } else if (path === '/received' && req.method === 'DELETE') {
      received.length = 0;
      res.writeHead(204);
      res.end();
    } else if (path === '/mode' && req.method === 'POST') {
      const mode = JSON.parse(await readBody(req));
      if (mode.status !== undefined) {
        status = Number(mode.status);
      }
      if (mode.clockOffsetSeconds !== undefined) {
        clockOffsetMs = Number(mode.clockOffsetSeconds) * 1000;
      }
      json(res, 200, { status, clockOffsetSeconds: clockOffsetMs / 1000 });
    } else if (path === '/verify' && req.method === 'POST') {
      const input = JSON.parse(await readBody(req));
      json(res, 200, verify(input.headers ?? {}, input.body ?? ''));
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
    }
  } catch (err) {
    res.writeHead(400, { 'Content-Type': 'text/plain' });
    res.end(`bad request: ${err.message}`);
  }
});

server.once('error', (err) => {
  console.error(`listen failed: ${err.code ?? ''} ${err.message}`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`READY port=${server.address().port}\n`);
});

const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (process.env.EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
