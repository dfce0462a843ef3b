// A standard OAuth 2.0 client (panva/openid-client, OpenID certified) that obtains a token with the
// client credentials grant, for Tessera's interoperability tests: what a real integration does,
// not what Tessera's own tests think it should do.
//
//   node client.mjs ISSUER CLIENT_ID METHOD [JWK_FILE]
//
//   ISSUER     discovered at ISSUER/.well-known/openid-configuration (plain http allowed: loopback tests)
//   METHOD     client_secret_basic | client_secret_post: the secret comes from env CLIENT_SECRET
//              (never an argument, which any process listing shows);
//              private_key_jwt: JWK_FILE holds the private JWK (RSA: RS256, EC P-256: ES256),
//              and its "kid", when present, goes into the assertion's header
//   env SCOPE  the scope to ask for; "api" unless set (an empty SCOPE asks for none)
//
// Prints exactly one JSON line on stdout: the token response and exit code 0, or
// {"error":"<error name>","message":"...",...} and exit code 1 (also for a usage error). On an
// HTTP error answer the line also holds "status", and "oauth_error", "error_description" and
// "retry_after" when the answer has them.
import { readFileSync } from 'node:fs';
import * as client from 'openid-client';

// stdout carries only the one result line.
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}

// The WebCrypto algorithm that the JWS algorithm follows from (openid-client derives the "alg"
// header from the key): RS256 for an RSA key, ES256 for an EC P-256 key.
const signingAlgorithm = (jwk) => {
  if (jwk.kty === 'RSA') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return { name: 'ECDSA', namedCurve: 'P-256' };
  throw new UsageError(`unsupported key: kty ${jwk.kty}${jwk.crv ? ` crv ${jwk.crv}` : ''} (RSA or EC P-256 only)`);
};

const privateKeyJwt = async (file) => {
  if (!file) throw new UsageError('private_key_jwt needs JWK_FILE');
  const jwk = JSON.parse(readFileSync(file, 'utf8'));
  if (jwk.d === undefined) throw new UsageError(`${file} holds no private key`);
  // Only the key material: a stray "alg", "use" or "key_ops" would only make importKey stricter.
  const { kid, alg: _alg, use: _use, key_ops: _ops, ...material } = jwk;
  const key = await crypto.subtle.importKey('jwk', material, signingAlgorithm(jwk), false, ['sign']);
  return client.PrivateKeyJwt(kid ? { key, kid } : key);
};

const clientAuthentication = async (method, file) => {
  const secret = () => {
    const value = process.env.CLIENT_SECRET;
    if (!value) throw new UsageError(`${method} needs env CLIENT_SECRET`);
    return value;
  };
  switch (method) {
    case 'client_secret_basic': return client.ClientSecretBasic(secret());
    case 'client_secret_post': return client.ClientSecretPost(secret());
    case 'private_key_jwt': return privateKeyJwt(file);
    default: throw new UsageError(`unknown METHOD ${method ?? '(none)'}: client_secret_basic, client_secret_post or private_key_jwt`);
  }
};

const describe = (err) => {
  const result = { error: err?.name ?? 'Error', message: err?.message ?? String(err) };
  if (err?.code) result.code = err.code;
  // An OAuth error answer from the token endpoint (ResponseBodyError) or another HTTP failure.
  if (typeof err?.status === 'number') result.status = err.status;
  // A 401 with WWW-Authenticate (WWWAuthenticateChallengeError) carries the OAuth error in its
  // challenge's parameters, an error body (ResponseBodyError) on the error itself.
  const oauth = Array.isArray(err?.cause) ? err.cause[0]?.parameters : err;
  if (typeof oauth?.error === 'string') result.oauth_error = oauth.error;
  if (typeof oauth?.error_description === 'string') result.error_description = oauth.error_description;
  const retryAfter = err?.response?.headers?.get?.('retry-after');
  if (retryAfter) result.retry_after = retryAfter;
  if (err?.cause?.message && !result.oauth_error) result.cause = `${err.cause.name}: ${err.cause.message}`;
  return result;
};

const main = async () => {
  const [issuer, clientId, method, file] = process.argv.slice(2);
  if (!issuer || !clientId) throw new UsageError('usage: node client.mjs ISSUER CLIENT_ID METHOD [JWK_FILE]');
  const authentication = await clientAuthentication(method, file);
  const config = await client.discovery(new URL(issuer), clientId, undefined, authentication, {
    execute: [client.allowInsecureRequests],
    timeout: 20,
  });
  const scope = process.env.SCOPE ?? 'api';
  return client.clientCredentialsGrant(config, scope ? { scope } : {});
};

main().then((tokens) => {
  print(tokens);
  process.exitCode = 0;
}, (err) => {
  print(describe(err));
  process.exitCode = 1;
});
