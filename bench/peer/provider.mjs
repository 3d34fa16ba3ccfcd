// Benchmark peer: panva's oidc-provider (pinned in conformance/peers/package.json),
// configured to serve the same scenarios as Gatehouse (see bench/src/peer.rs, which
// writes this file next to node_modules in a temporary directory and starts it).
//
// Environment (all required, set by peer.rs):
//   PORT_FILE    the chosen port is written here once the server listens
//   CC_SECRET    secret of the client_credentials client `bench-cc`
//   WEB_SECRET   secret of the code-flow client `bench-web`
//   WEB_REDIRECT redirect URI of `bench-web`
//   USER_PASSWORD password the login interaction accepts for every `bench-user-<n>`
//   COOKIE_KEY   key that signs the provider's cookies
//
// Listens over plain HTTP on 127.0.0.1 only, on a port the OS picks.

import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

import Provider from 'oidc-provider';

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} must be set`);
    process.exit(2);
  }
  return v;
};
const PORT_FILE = env('PORT_FILE');
const CC_SECRET = env('CC_SECRET');
const WEB_SECRET = env('WEB_SECRET');
const WEB_REDIRECT = env('WEB_REDIRECT');
const USER_PASSWORD = env('USER_PASSWORD');
const COOKIE_KEY = env('COOKIE_KEY');

const CC_ID = 'bench-cc';
const WEB_ID = 'bench-web';
const JWT_RESOURCE = 'urn:bench:jwt';
const OPAQUE_RESOURCE = 'urn:bench:opaque';
// What the bench web client is granted without a consent page (first party).
const WEB_SCOPE = 'openid offline_access';
const USER = /^bench-user-[0-9]{1,6}$/;

const HOUR = 60 * 60;
const DAY = 24 * HOUR;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwks = {
  keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' }],
};

// oidc-provider's built-in memory adapter is an LRU of about 1000 entries: under load it
// drops the prepared sessions and tokens. This one keeps each entry until it expires.
const store = new Map(); // `${model}:${id}` -> { value, expiresAt }
const sessionIds = new Map(); // session uid -> id
const grantMembers = new Map(); // grantId -> Set of keys
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken']);

function live(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry.value;
}

setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of store) if (entry.expiresAt <= now) store.delete(key);
  for (const [uid, id] of sessionIds) if (!store.has(`Session:${id}`)) sessionIds.delete(uid);
  for (const [grantId, keys] of grantMembers) {
    for (const key of keys) if (!store.has(key)) keys.delete(key);
    if (keys.size === 0) grantMembers.delete(grantId);
  }
}, 60_000).unref();

class Adapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(key, { value: payload, expiresAt });
    if (this.model === 'Session') sessionIds.set(payload.uid, id);
    if (GRANTABLE.has(this.model) && payload.grantId) {
      let keys = grantMembers.get(payload.grantId);
      if (!keys) grantMembers.set(payload.grantId, (keys = new Set()));
      keys.add(key);
    }
  }

  async find(id) { return live(this.key(id)); }

  async findByUid(uid) {
    const id = sessionIds.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode() { return undefined; } // no device flow

  async consume(id) {
    const payload = live(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    const key = this.key(id);
    const payload = live(key);
    store.delete(key);
    if (payload?.uid && sessionIds.get(payload.uid) === id) sessionIds.delete(payload.uid);
    if (payload?.grantId) grantMembers.get(payload.grantId)?.delete(key);
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
  }
}

async function findAccount(ctx, sub) {
  if (!USER.test(sub)) return undefined;
  return { accountId: sub, async claims() { return { sub }; } };
}

function newWebGrant(provider, accountId) {
  const grant = new provider.Grant({ accountId, clientId: WEB_ID });
  grant.addOIDCScope(WEB_SCOPE);
  return grant;
}

function configuration(provider) {
  return {
    clients: [
      {
        client_id: CC_ID,
        client_secret: CC_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      {
        // confidential, like Gatehouse's web client; PKCE is sent anyway
        client_id: WEB_ID,
        client_secret: WEB_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [WEB_REDIRECT],
      },
    ],
    adapter: Adapter,
    findAccount,
    jwks,
    cookies: { keys: [COOKIE_KEY] },
    scopes: ['openid', 'offline_access', 'api:read', 'api:write'],
    claims: { openid: ['sub'] },
    responseTypes: ['code'],
    pkce: { required: () => false },
    rotateRefreshToken: true,
    // A first-party client: an existing session gets the grant without a consent page,
    // so the SSO loop is one redirect.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      // a grant revoked by refresh token reuse detection is replaced, not an interaction
      const existing = grantId && await provider().Grant.find(grantId);
      if (existing) return existing;
      if (ctx.oidc.client.clientId !== WEB_ID) return undefined;
      const grant = newWebGrant(provider(), ctx.oidc.session.accountId);
      await grant.save();
      return grant;
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL || 2 * HOUR,
      AuthorizationCode: 60,
      ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL || 2 * HOUR,
      IdToken: HOUR,
      Interaction: 10 * 60,
      Grant: DAY,
      RefreshToken: DAY,
      Session: DAY,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // no resource: the access token is for userinfo (opaque)
        defaultResource: (ctx, client, oneOf) => oneOf,
        useGrantedResource: () => false,
        getResourceServerInfo: (ctx, resourceIndicator) => {
          if (resourceIndicator === JWT_RESOURCE) {
            return {
              scope: 'api:read api:write',
              audience: JWT_RESOURCE,
              accessTokenTTL: 2 * HOUR,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'RS256' } },
            };
          }
          // oidc-provider introspects only opaque access tokens
          if (resourceIndicator === OPAQUE_RESOURCE) {
            return {
              scope: 'api:read api:write',
              audience: OPAQUE_RESOURCE,
              accessTokenTTL: 2 * HOUR,
              accessTokenFormat: 'opaque',
            };
          }
          throw new Provider.errors.InvalidTarget();
        },
      },
    },
  };
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw new Error('form body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// Login interaction without pages: POST /interaction/<uid> with login=bench-user-<n>
// and password finishes login and consent (offline_access needs prompt=consent) in one step.
function interactions(provider) {
  const PATH = /^\/interaction\/([A-Za-z0-9_-]+)$/;
  return async (ctx, next) => {
    const m = PATH.exec(ctx.path);
    if (!m) return next();
    ctx.set('Cache-Control', 'no-store');
    if (ctx.method !== 'POST') {
      ctx.status = 405;
      ctx.body = 'POST login and password\n';
      return undefined;
    }
    let details;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      ctx.status = 400;
      ctx.body = `${err.error || 'invalid_request'}: ${err.error_description || err.message}\n`;
      return undefined;
    }
    if (details.uid !== m[1]) {
      ctx.status = 400;
      ctx.body = 'interaction mismatch\n';
      return undefined;
    }
    const form = await readForm(ctx.req);
    const accountId = details.session?.accountId ?? form.get('login');
    if (!details.session?.accountId
      && (!USER.test(accountId || '') || form.get('password') !== USER_PASSWORD)) {
      ctx.status = 403;
      ctx.body = 'invalid login or password\n';
      return undefined;
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : newWebGrant(provider, accountId);
    const result = {
      login: { accountId, remember: true },
      consent: { grantId: await grant.save() },
    };
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: false,
    });
    ctx.status = 303;
    ctx.redirect(returnTo);
    return undefined;
  };
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  let op;
  op = new Provider(`http://127.0.0.1:${port}`, configuration(() => op));
  op.on('server_error', (ctx, err) => console.error('server_error', ctx?.method, ctx?.path, err));
  op.use(interactions(op));
  server.on('request', op.callback());
  fs.writeFileSync(`${PORT_FILE}.tmp`, `${port}\n`);
  fs.renameSync(`${PORT_FILE}.tmp`, PORT_FILE);
  console.log(`oidc-provider listening on http://127.0.0.1:${port} (pid ${process.pid})`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
