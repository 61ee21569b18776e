// A real OpenID Provider for palisade-sso's tests (and the back office's
// headless-browser test): panva's oidc-provider on loopback, with its own
// signing keys, a login page that takes a user name, and loopback-only admin
// endpoints to rotate keys, tamper with one ID token, mint tokens and count
// key-set fetches.
//
//   node provider.mjs [--port N] [--config file.json] [--exit-on-stdin-close]
//
// Listens on 127.0.0.1 (port 0 = any free port) and prints one JSON line
// {"ready":true,"issuer":"http://127.0.0.1:PORT","port":PORT} once it serves.
// The configuration file (all keys optional; see DEFAULTS below):
//   {
//     "clients": [{ "client_id", "client_secret", "redirect_uris": [..],
//                   "post_logout_redirect_uris": [..], "backchannel_logout_uri" }],
//     "users": { "alice": { "email", "email_verified", "name", "groups": [..],
//                           "amr": [..], "acr", "disabled" } },
//     "id_token_ttl": 600
//   }
// Sign in by opening the authorization URL: the login page at
// /interaction/<uid> has a field `login` (the user's key in "users"; any
// password is accepted) and posts to /interaction/<uid>/login. A disabled or
// unknown user is sent back with error=access_denied. Consent is implied.
//
// Admin endpoints (JSON bodies, loopback only):
//   POST /admin/rotate                 new signing key first, old key kept  -> {kid}
//   POST /admin/tamper {code, patch, remove, sign, add_at_hash, replace}
//        rewrites the ID token of the token response for that authorization
//        code: patch/remove claims, then sign with "provider" (default),
//        "none", "hs256-public" (HS256 keyed with the public key's PEM),
//        "unknown-key" (a fresh key and kid) or "wrong-signature" (a fresh
//        key under the current kid); or replace it with the given token
//   POST /admin/mint {claims, sign}    a token with default iss/iat/exp      -> {token}
//   POST /admin/users {id, ...fields}  adds or changes a user
//   GET  /admin/stats                  -> {jwks_fetches}

import { createHash, createHmac, createPublicKey, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import Provider from 'oidc-provider';

const args = process.argv.slice(2);
const arg = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

const DEFAULTS = {
  clients: [{
    client_id: 'backoffice',
    client_secret: 'backoffice-secret',
    redirect_uris: ['http://127.0.0.1:8080/sso/demo/callback'],
    post_logout_redirect_uris: ['http://127.0.0.1:8080/'],
  }],
  users: {
    alice: { email: 'alice@acme.test', email_verified: true, name: 'Alice', groups: ['backoffice-admins'], amr: ['pwd', 'otp'], acr: 'mfa' },
    bob: { email: 'bob@acme.test', email_verified: true, name: 'Bob', groups: ['support'], amr: ['pwd'] },
  },
  id_token_ttl: 600,
};

const config = { ...DEFAULTS, ...(arg('--config') ? JSON.parse(readFileSync(arg('--config'), 'utf8')) : {}) };
const users = config.users;
const tampers = new Map();
const stats = { jwks_fetches: 0 };
let keys = [];
// A key the provider never publishes (RSA generation takes a second: made once, in the background).
const strangerKey = newKey();
let provider;
let issuer;

const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

async function newKey() {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { kid: randomUUID(), privateKey, publicKey, jwk };
}

function current() {
  return keys[0];
}

function makeProvider() {
  const acrValues = [...new Set(Object.values(users).map((u) => u.acr).filter(Boolean))];
  const p = new Provider(issuer, {
    clients: config.clients.map((c) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      ...c,
    })),
    async findAccount(ctx, id) {
      const user = users[id];
      if (!user || user.disabled) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: user.email,
            email_verified: user.email_verified,
            name: user.name,
            groups: user.groups,
          };
        },
      };
    },
    // acr, amr and auth_time come with the `openid` scope, as at most
    // commercial providers (oidc-provider's default wants them requested).
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
      acr: null,
      amr: null,
      sid: null,
      auth_time: null,
      iss: null,
    },
    acrValues,
    conformIdTokenClaims: false,
    // The back-channel logout receiver is on loopback, which oidc-provider's
    // SSRF guard refuses: this test provider lets its own requests through.
    fetch: (url, options) => {
      const { dispatcher, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    cookies: { keys: ['palisade-sso-test-cookie-key'] },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
    jwks: { keys: keys.map((k) => ({ ...k.jwk, kid: k.kid, alg: 'RS256', use: 'sig' })) },
    pkce: { required: () => true },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      Grant: 3600,
      IdToken: config.id_token_ttl,
      Interaction: 600,
      Session: 3600,
    },
  });
  for (const event of ['backchannel.error', 'server_error', 'end_session.error']) {
    p.on(event, (...args) => process.stderr.write(`${event}: ${args.map((a) => a?.stack ?? a?.message ?? String(a)).join(' ')}\n`));
  }
  p.use(async (ctx, next) => {
    if (ctx.path === '/jwks') stats.jwks_fetches += 1;
    await next();
    if (ctx.oidc?.route === 'token' && ctx.status === 200 && ctx.body?.id_token) {
      const code = ctx.oidc.params?.code;
      const tamper = code && tampers.get(code);
      if (tamper) {
        tampers.delete(code);
        ctx.body = { ...ctx.body, id_token: await rewrite(ctx.body.id_token, ctx.body.access_token, tamper) };
      }
    }
  });
  return p;
}

async function sign(payload, mode) {
  const key = current();
  switch (mode ?? 'provider') {
    case 'provider':
      return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(key.privateKey);
    case 'none':
      return `${b64({ alg: 'none' })}.${b64(payload)}.`;
    case 'hs256-public': {
      const pem = createPublicKey({ key: key.jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      const input = `${b64({ alg: 'HS256', kid: key.kid })}.${b64(payload)}`;
      return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    }
    case 'unknown-key': {
      const stranger = await strangerKey;
      return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: randomUUID() }).sign(stranger.privateKey);
    }
    case 'wrong-signature': {
      const stranger = await strangerKey;
      return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(stranger.privateKey);
    }
    default:
      throw new Error(`unknown signing mode ${mode}`);
  }
}

async function rewrite(idToken, accessToken, tamper) {
  if (tamper.replace) return tamper.replace;
  const payload = JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString());
  Object.assign(payload, tamper.patch ?? {});
  for (const name of tamper.remove ?? []) delete payload[name];
  if (tamper.add_at_hash) {
    const digest = createHash('sha256').update(accessToken).digest();
    payload.at_hash = digest.subarray(0, digest.length / 2).toString('base64url');
  }
  return sign(payload, tamper.sign);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(type === 'application/json' ? JSON.stringify(body) : body);
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function interaction(req, res, url) {
  const parts = url.pathname.split('/').filter(Boolean); // interaction, uid, [login|abort]
  const uid = parts[1];
  if (req.method === 'GET' && parts.length === 2) {
    const details = await provider.interactionDetails(req, res);
    send(res, 200, `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign in</title></head><body>
<h1>Sign in to ${escape(details.params.client_id)}</h1>
<form id="login" method="post" action="/interaction/${escape(uid)}/login">
<label>User <input name="login" id="login-name" autofocus></label>
<label>Password <input name="password" id="login-password" type="password"></label>
<button type="submit" id="login-submit">Sign in</button>
</form><a href="/interaction/${escape(uid)}/abort">Cancel</a></body></html>`, 'text/html; charset=utf-8');
    return;
  }
  if (req.method === 'GET' && parts[2] === 'abort') {
    await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled' }, { mergeWithLastSubmission: false });
    return;
  }
  if (req.method === 'POST' && parts[2] === 'login') {
    const form = new URLSearchParams(await readBody(req));
    const id = form.get('login') ?? '';
    const user = users[id];
    const details = await provider.interactionDetails(req, res);
    if (!user || user.disabled) {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'unknown or disabled user' }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = new provider.Grant({ accountId: id, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, {
      login: { accountId: id, amr: user.amr, acr: user.acr, remember: false },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
    return;
  }
  send(res, 404, { error: 'not found' });
}

async function admin(req, res, url) {
  const remote = req.socket.remoteAddress ?? '';
  if (!(remote === '127.0.0.1' || remote === '::1' || remote === '::ffff:127.0.0.1')) {
    send(res, 403, { error: 'loopback only' });
    return;
  }
  const body = req.method === 'POST' ? JSON.parse((await readBody(req)) || '{}') : {};
  switch (url.pathname) {
    case '/admin/rotate': {
      keys = [await newKey(), ...keys].slice(0, 2);
      provider = makeProvider();
      send(res, 200, { kid: current().kid });
      return;
    }
    case '/admin/tamper':
      tampers.set(body.code, body);
      send(res, 200, { ok: true });
      return;
    case '/admin/mint': {
      const now = Math.floor(Date.now() / 1000);
      const token = await sign({ iss: issuer, iat: now, exp: now + 300, ...body.claims }, body.sign);
      send(res, 200, { token });
      return;
    }
    case '/admin/users': {
      const { id, ...fields } = body;
      users[id] = { ...(users[id] ?? {}), ...fields };
      send(res, 200, { ok: true });
      return;
    }
    case '/admin/stats':
      send(res, 200, stats);
      return;
    default:
      send(res, 404, { error: 'not found' });
  }
}

const server = createServer((req, res) => {
  const url = new URL(req.url, issuer);
  const handle = url.pathname.startsWith('/admin/')
    ? admin(req, res, url)
    : url.pathname.startsWith('/interaction/')
      ? interaction(req, res, url)
      : Promise.resolve(provider.callback()(req, res));
  handle.catch((err) => {
    if (!res.headersSent) send(res, 500, { error: String(err?.message ?? err) });
  });
});

server.listen(Number(arg('--port') ?? 0), '127.0.0.1', async () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}`;
  keys = [await newKey()];
  provider = makeProvider();
  process.stdout.write(`${JSON.stringify({ ready: true, issuer, port })}\n`);
});

if (args.includes('--exit-on-stdin-close')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
