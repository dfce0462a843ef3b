// OpenID Connect provider for Tessera's integration tests (panva/oidc-provider on loopback http).
//
//   node server.js [PORT] [CONFIG]      (or env PORT, CONFIG; PORT 0 = any free port;
//                                        env EXIT_WITH_STDIN=1: exit when stdin closes)
//
// CONFIG is a JSON file:
//   { "clients":  [{ "client_id", "client_secret", "redirect_uris": [...],
//                    "token_endpoint_auth_method"?: "client_secret_basic" | "client_secret_post",
//                    ...any other client metadata (post_logout_redirect_uris, ...) }],
//     "accounts": [{ "sub", "email", "email_verified", "name"?, "given_name", "family_name" }],
//     "clientCredentials"?: { "resource": "urn:...", "scope"?: "api" } }
//
// With "clientCredentials", clients listed with grant_types ["client_credentials"] get access
// tokens for that one resource as ES256-signed JWTs (nothing stored per token): the token format
// Tessera issues, for the benchmark that runs both side by side.
//
// Prints exactly one line "READY http://127.0.0.1:PORT" on stdout once it listens.
//
// Interaction without a browser: an authorization request with login_hint=<sub or email> of a
// known account logs that account in and grants every requested scope at once, so a plain HTTP
// client that follows redirects goes from the relying party's challenge straight back to its
// callback. Such a login_hint wins over an existing session in the same cookie container.
// Without a usable login_hint, GET /interaction/:uid shows a form with a "login" field
// (sub or email) that POSTs to /interaction/:uid/login.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

// stdout carries only the READY line: the library's own notices go to stderr.
const ready = (line) => process.stdout.write(`${line}\n`);
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const configPath = process.argv[3] ?? process.env.CONFIG;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid port: ${process.argv[2] ?? process.env.PORT}`);
  process.exit(2);
}
if (!configPath) {
  console.error('usage: node server.js PORT CONFIG (or env PORT and CONFIG)');
  process.exit(2);
}

const config = JSON.parse(readFileSync(configPath, 'utf8'));
const accounts = (config.accounts ?? []).map((a) => ({
  ...a,
  email_verified: a.email_verified === true,
  name: a.name ?? [a.given_name, a.family_name].filter(Boolean).join(' '),
}));
const clients = (config.clients ?? []).map((c) => ({
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  ...c,
}));

const findAccountByLogin = (login) => {
  if (!login) return undefined;
  const wanted = String(login).trim();
  return accounts.find((a) => a.sub === wanted)
    ?? accounts.find((a) => a.email && a.email.toLowerCase() === wanted.toLowerCase());
};

// A fresh RSA signing key for each run: nothing outlives the process.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
const { privateKey: ecKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecSigningKey = { ...ecKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'ES256' };
const clientCredentials = config.clientCredentials;

const supportedScopes = ['openid', 'email', 'profile'];

const server = http.createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: clientCredentials ? [signingKey, ecSigningKey] : [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: supportedScopes,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
    },
    // Put the scope's claims in the id_token too: ASP.NET Core's handler does not call userinfo
    // unless GetClaimsFromUserInfoEndpoint is set.
    conformIdTokenClaims: false,
    // PKCE (S256) is required for public clients, optional but verified when a confidential
    // client sends it (ASP.NET Core's handler always does).
    pkce: { required: (ctx, client) => client.clientAuthMethod === 'none' },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 600,
      IdToken: 3600,
      Interaction: 3600,
      Grant: 86400,
      Session: 86400,
      ClientCredentials: 3600,
    },
    features: {
      devInteractions: { enabled: false },
      ...(clientCredentials ? {
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => clientCredentials.resource,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: clientCredentials.scope ?? 'api',
            audience: clientCredentials.resource,
            accessTokenTTL: 3600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          }),
        },
      } : {}),
    },
    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    async findAccount(ctx, id) {
      const account = accounts.find((a) => a.sub === id);
      if (!account) return undefined;
      return {
        accountId: account.sub,
        async claims() {
          const { sub, email, email_verified, name, given_name, family_name } = account;
          return { sub, email, email_verified, name, given_name, family_name };
        },
      };
    },
  });
  provider.proxy = false;

  for (const event of ['server_error', 'authorization.error', 'grant.error', 'end_session.error', 'userinfo.error']) {
    provider.on(event, (ctx, err) => console.error(`${event}: ${err?.name}: ${err?.message} ${err?.error_description ?? ''}`));
  }

  const providerCallback = provider.callback();

  // Logs the account in and grants the requested scopes (within openid email profile).
  const finish = async (req, res, details, accountId) => {
    const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    const grant = existing?.accountId === accountId
      ? existing
      : new provider.Grant({ accountId, clientId: details.params.client_id });
    const requested = String(details.params.scope ?? 'openid').split(' ').filter((s) => supportedScopes.includes(s));
    grant.addOIDCScope(requested.join(' '));
    const missingClaims = details.prompt.details?.missingOIDCClaims;
    if (Array.isArray(missingClaims) && missingClaims.length) grant.addOIDCClaims(missingClaims);
    const grantId = await grant.save();
    const result = { consent: { grantId } };
    if (details.prompt.name === 'login') result.login = { accountId };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  };

  const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const loginForm = (res, uid, message, status = 200) => {
    res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(`<!DOCTYPE html><html><head><title>Sign in</title></head><body>
<h1>Sign in to the test provider</h1>${message ? `<p class="error">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>Subject or email <input name="login" autofocus></label>
<button type="submit">Sign in</button>
</form></body></html>`);
  };

  const readForm = (req) => new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 65536) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });

  const interaction = async (req, res, uid, action) => {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('interaction mismatch');
      return;
    }
    if (details.prompt.name !== 'login') {
      // Consent (or any other prompt) for an already signed-in account: grant automatically.
      await finish(req, res, details, details.session?.accountId);
      return;
    }
    if (req.method === 'GET' && !action) {
      const hint = details.params.login_hint;
      const account = findAccountByLogin(hint);
      if (account) {
        await finish(req, res, details, account.sub);
        return;
      }
      loginForm(res, uid, hint ? `No account for login_hint ${hint}.` : '');
      return;
    }
    if (req.method === 'POST' && action === 'login') {
      const form = await readForm(req);
      const account = findAccountByLogin(form.get('login'));
      if (!account) {
        loginForm(res, uid, 'Unknown account.', 401);
        return;
      }
      await finish(req, res, details, account.sub);
      return;
    }
    res.writeHead(405, { 'Content-Type': 'text/plain' });
    res.end('method not allowed');
  };

  // An authorization request whose login_hint names a known account always signs that account
  // in: a session of another account in the same cookie container is ended first, so it neither
  // wins silently nor triggers oidc-provider's browser-only "switch account" logout form.
  // The login_hint of an authorization request, also when it was pushed first (PAR: ASP.NET
  // Core's handler pushes whenever discovery offers it, and sends only client_id and request_uri).
  const loginHintOf = async (url) => {
    const requestUri = url.searchParams.get('request_uri');
    const parPrefix = 'urn:ietf:params:oauth:request_uri:';
    if (!requestUri?.startsWith(parPrefix)) return url.searchParams.get('login_hint');
    const pushed = await provider.PushedAuthorizationRequest.find(requestUri.slice(parPrefix.length));
    if (!pushed?.request) return undefined;
    const payload = JSON.parse(Buffer.from(pushed.request.split('.')[1], 'base64url').toString('utf8'));
    return payload.login_hint;
  };

  const endOtherAccountsSession = async (req) => {
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname !== '/auth') return;
    const account = findAccountByLogin(await loginHintOf(url));
    const sessionId = /(?:^|;\s*)_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (!account || !sessionId) return;
    const session = await provider.Session.find(decodeURIComponent(sessionId));
    if (session?.accountId && session.accountId !== account.sub) await session.destroy();
  };

  server.on('request', (req, res) => {
    const match = /^\/interaction\/([^/?]+)(?:\/([^/?]+))?(?:\?.*)?$/.exec(req.url ?? '');
    if (!match) {
      endOtherAccountsSession(req).then(() => providerCallback(req, res), (err) => {
        console.error(`session lookup error: ${err?.message}`);
        providerCallback(req, res);
      });
      return;
    }
    interaction(req, res, decodeURIComponent(match[1]), match[2]).catch((err) => {
      console.error(`interaction error: ${err?.name}: ${err?.message}`);
      if (!res.headersSent) {
        res.writeHead(err?.statusCode ?? 500, { 'Content-Type': 'text/plain' });
      }
      res.end(`${err?.name}: ${err?.message}`);
    });
  });

  // oidc-provider checks static client metadata only on first use: check it now, so a bad
  // configuration fails the start instead of some later request.
  Promise.all(clients.map(async ({ client_id: clientId }) => {
    if (!await provider.Client.find(String(clientId))) throw new Error(`client ${clientId} not loaded`);
  })).then(() => ready(`READY ${issuer}`), (err) => {
    console.error(`invalid client configuration: ${err?.error_description ?? err?.message}`);
    process.exit(1);
  });
});

server.on('error', (err) => {
  console.error(`listen failed: ${err.message}`);
  process.exit(1);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
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
