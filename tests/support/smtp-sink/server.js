// SMTP sink for Tessera's integration tests: accepts every message on loopback and keeps it in
// memory, readable through a small JSON API.
//
//   node server.js [SMTP_PORT] [HTTP_PORT]     (or env SMTP_PORT, HTTP_PORT; 0 = any free port;
//                                               env EXIT_WITH_STDIN=1: exit when stdin closes)
//
// SMTP on 127.0.0.1:SMTP_PORT: no TLS (STARTTLS disabled), authentication optional (AUTH PLAIN
// and LOGIN accepted with any credentials).
// HTTP on 127.0.0.1:HTTP_PORT:
//   GET    /messages  -> [{ from, to: [...], subject, text, html, receivedAt, ... }] oldest first
//   DELETE /messages  -> clears them (204)
// Prints exactly one line "READY smtp=PORT http=PORT" on stdout once both listen.
import http from 'node:http';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

const parsePort = (value, name) => {
  const port = Number(value ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid ${name}: ${value}`);
    process.exit(2);
  }
  return port;
};
const smtpPort = parsePort(process.argv[2] ?? process.env.SMTP_PORT, 'SMTP_PORT');
const httpPort = parsePort(process.argv[3] ?? process.env.HTTP_PORT, 'HTTP_PORT');

const messages = [];

const addressList = (field) => (field ? (Array.isArray(field) ? field : [field]) : [])
  .flatMap((a) => a.value ?? [])
  .map((a) => a.address)
  .filter(Boolean);

const smtp = new SMTPServer({
  name: 'smtp-sink.test',
  banner: 'Tessera test SMTP sink',
  secure: false,
  disabledCommands: ['STARTTLS'],
  authOptional: true,
  allowInsecureAuth: true,
  authMethods: ['PLAIN', 'LOGIN'],
  size: 25 * 1024 * 1024,
  logger: false,
  closeTimeout: 1000,
  onAuth(auth, session, callback) {
    callback(null, { user: auth.username ?? 'anonymous' });
  },
  onData(stream, session, callback) {
    simpleParser(stream, { skipImageLinks: true })
      .then((mail) => {
        const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        messages.push({
          from: envelopeFrom || addressList(mail.from)[0] || '',
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: mail.subject ?? '',
          text: mail.text ?? '',
          html: typeof mail.html === 'string' ? mail.html : null,
          receivedAt: new Date().toISOString(),
          headerFrom: addressList(mail.from),
          headerTo: addressList(mail.to),
          headerCc: addressList(mail.cc),
          messageId: mail.messageId ?? null,
          authenticatedUser: session.user ?? null,
        });
        callback();
      })
      .catch((err) => {
        console.error(`could not parse message: ${err.message}`);
        callback(new Error('message could not be parsed'));
      });
  },
});
smtp.on('error', (err) => console.error(`smtp error: ${err.message}`));

const api = http.createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  if (path === '/messages' && req.method === 'GET') {
    const body = JSON.stringify(messages);
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(body);
  } else if (path === '/messages' && req.method === 'DELETE') {
    messages.length = 0;
    res.writeHead(204);
    res.end();
  } else {
    res.writeHead(path === '/messages' ? 405 : 404, { 'Content-Type': 'text/plain' });
    res.end(path === '/messages' ? 'method not allowed' : 'not found');
  }
});

const listen = (server, port) => new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', () => {
    server.off('error', reject);
    resolve(server.server ? server.server.address().port : server.address().port);
  });
});

try {
  const actualSmtp = await listen(smtp, smtpPort);
  const actualHttp = await listen(api, httpPort);
  process.stdout.write(`READY smtp=${actualSmtp} http=${actualHttp}\n`);
} catch (err) {
  console.error(`listen failed: ${err.message}`);
  process.exit(1);
}

const stop = () => {
  api.closeAllConnections();
  api.close();
  smtp.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Started by a test fixture with EXIT_WITH_STDIN=1: end when the parent goes away (its end of
// the stdin pipe closes), so a crashed test run leaves no server behind.
if (process.env.EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
