// Reference peer for gatehouse-conformance: panva's `oidc-provider` (pinned in
// package.json next to this file) configured along the lines of the
// configuration node-oidc-provider itself uses for its OpenID certification,
// reduced to what the oidcc-basic / oidcc-config / oidcc-formpost-basic /
// oidcc-rp-initiated-logout / oidcc-backchannel / oidcc-dynamic plans exercise.
//
// Run through run-oidc-provider.sh, which installs the pinned package into a
// temporary directory and copies this file next to its node_modules.
//
// Environment:
//   TLS_CERT, TLS_KEY  PEM files for the HTTPS listener (required)
//   PORT               listening port on 127.0.0.1 (default 3443)
//   CALLBACK_PORT      port of the RP's loopback callback (default 8990)
//
// Everything here is a test fixture: the cookie keys and client secrets are
// fixed, non-secret strings; signing keys are generated anew at each start.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';

import Provider from 'oidc-provider';

const PORT = Number.parseInt(process.env.PORT || '3443', 10);
const CALLBACK_PORT = Number.parseInt(process.env.CALLBACK_PORT || '8990', 10);
const { TLS_CERT, TLS_KEY } = process.env;
if (!TLS_CERT || !TLS_KEY) {
  console.error('TLS_CERT and TLS_KEY must name PEM files');
  process.exit(2);
}

const ISSUER = `https://127.0.0.1:${PORT}`;
const CALLBACK = `http://127.0.0.1:${CALLBACK_PORT}`;
const ACR = 'urn:mace:incommon:iap:bronze';

// ---------------------------------------------------------------- accounts --

const USERS = new Map([
  ['alice', {
    password: 'correct horse battery staple 42',
    claims: {
      sub: 'alice',
      // profile
      name: 'Alice Liddell',
      given_name: 'Alice',
      family_name: 'Liddell',
      middle_name: 'Pleasance',
      nickname: 'Al',
      preferred_username: 'alice',
      profile: 'https://alice.example.com/profile',
      picture: 'https://alice.example.com/picture.png',
      website: 'https://alice.example.com/',
      gender: 'female',
      birthdate: '1990-05-04',
      zoneinfo: 'Europe/London',
      locale: 'en-GB',
      updated_at: 1700000000, // JSON number (seconds since epoch)
      // email
      email: 'alice@example.com',
      email_verified: true, // JSON boolean
      // address (JSON object)
      address: {
        formatted: '1 Rabbit Hole\nOxford OX1 1AA\nUnited Kingdom',
        street_address: '1 Rabbit Hole',
        locality: 'Oxford',
        region: 'Oxfordshire',
        postal_code: 'OX1 1AA',
        country: 'GB',
      },
      // phone
      phone_number: '+44 1865 000000',
      phone_number_verified: false, // JSON boolean
    },
  }],
]);

async function findAccount(ctx, sub) {
  const user = USERS.get(sub);
  if (!user) return undefined;
  return {
    accountId: sub,
    // oidc-provider filters the returned claims down to what the granted
    // scopes / claims parameter allow, so returning everything is fine.
    async claims() {
      return structuredClone(user.claims);
    },
  };
}

// -------------------------------------------------------------------- keys --

function jwk(type, opts, extra) {
  const { privateKey } = crypto.generateKeyPairSync(type, opts);
  return { ...privateKey.export({ format: 'jwk' }), use: 'sig', ...extra };
}

const jwks = {
  keys: [
    // the first RSA key signs RS256 ID tokens (the clients' default alg)
    jwk('rsa', { modulusLength: 2048 }, { kid: 'rsa-1' }),
    jwk('ec', { namedCurve: 'P-256' }, { kid: 'ec-1' }),
    jwk('ed25519', {}, { kid: 'ed25519-1' }),
  ],
};

// ----------------------------------------------------------- configuration --

const client = (id, secret) => ({
  client_id: id,
  client_secret: secret,
  // oidc-provider treats client_secret_basic and client_secret_post as
  // interchangeable: a client registered with either accepts both.
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: [`${CALLBACK}/callback`],
  post_logout_redirect_uris: [`${CALLBACK}/post_logout_redirect`],
  backchannel_logout_uri: `${CALLBACK}/backchannel_logout`,
  backchannel_logout_session_required: true,
});

const configuration = {
  clients: [
    client('client', 'client-secret-0123456789abcdef'),
    client('client2', 'client2-secret-0123456789abcdef'),
  ],
  findAccount,
  jwks,
  // OIDC Core 3.1.2.1: the authorization endpoint MUST also accept POST
  // (oidcc-ensure-post-request-succeeds); RP-Initiated Logout allows POST at
  // the end_session endpoint too. oidc-provider v9 has both off by default and
  // only allows turning them on together with SameSite=None session cookies
  // (sent with Secure, which is fine: we only serve HTTPS).
  enableHttpPostMethods: true,
  cookies: {
    keys: ['gatehouse-conformance-peer-cookie-key-not-secret'],
    long: { sameSite: 'none' },
  },
  interactions: {
    url(ctx, interaction) {
      return `/interaction/${interaction.uid}`;
    },
  },
  acrValues: [ACR],
  scopes: ['openid', 'offline_access', 'profile', 'email', 'address', 'phone'],
  claims: {
    acr: null,
    amr: null,
    auth_time: null,
    iss: null,
    sid: null,
    openid: ['sub'],
    address: ['address'],
    email: ['email', 'email_verified'],
    phone: ['phone_number', 'phone_number_verified'],
    profile: ['birthdate', 'family_name', 'gender', 'given_name', 'locale', 'middle_name', 'name',
      'nickname', 'picture', 'preferred_username', 'profile', 'updated_at', 'website', 'zoneinfo'],
  },
  // oidc-provider refuses outgoing requests to special-use addresses (SSRF
  // protection); the back-channel logout endpoint here is the runner's own
  // loopback listener, so this fixture drops that dispatcher.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  responseTypes: ['code'],
  // The dynamic plan's sector modules register pairwise clients.
  subjectTypes: ['public', 'pairwise'],
  async pairwiseIdentifier(ctx, accountId, client) {
    return crypto.createHash('sha256')
      .update(client.sectorIdentifier)
      .update(accountId)
      .update('gatehouse-conformance-peer-pairwise-salt-not-secret')
      .digest('base64url');
  },
  features: {
    devInteractions: { enabled: false }, // own pages below (real password check)
    claimsParameter: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    userinfo: { enabled: true },
    // oidcc-dynamic: open registration (no initial access token), as the
    // Dynamic OP profile expects, and signed UserInfo (userinfo_signed_response_alg).
    registration: { enabled: true },
    jwtUserinfo: { enabled: true },
    // Request objects are accepted (request=... parameter) but only signed
    // ones: `none` is not in requestObjectSigningAlgValues (the default list
    // never contains it), so request_object_signing_alg_values_supported
    // does not advertise `none`. request_uri is never supported in v9.
    requestObjects: { enabled: true, requireSignedRequestObject: false },
  },
  // PKCE (S256 only) is supported; never required for these confidential clients.
  pkce: { required: () => false },
  // Refresh tokens whenever offline_access was granted (oidc-provider only
  // keeps offline_access in the request when prompt contains consent).
  async issueRefreshToken(ctx, c, code) {
    return c.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
  },
};

const provider = new Provider(ISSUER, configuration);

provider.on('backchannel.error', (ctx, err, client) => {
  console.error('backchannel.error', client?.clientId, err);
});

provider.on('server_error', (ctx, err) => {
  console.error('server_error', ctx?.method, ctx?.path, err);
});

// ------------------------------------------------------------ interactions --
// Same page shapes as oidc-provider's devInteractions (field names login /
// password / hidden prompt) but the password is checked and acr/amr are set.

const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function page(title, body, abortUrl) {
  return `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
</head>
<body>
<h1>${esc(title)}</h1>
${body}
<p><a href="${esc(abortUrl)}">[ Cancel ]</a></p>
</body>
</html>
`;
}

function loginForm(uid, params, error) {
  const hint = params.login_hint ? ` value="${esc(params.login_hint)}"` : '';
  return `${error ? `<p class="error">${esc(error)}</p>\n` : ''}<form autocomplete="off" action="/interaction/${esc(uid)}" method="post">
<input type="hidden" name="prompt" value="login"/>
<input required type="text" name="login" placeholder="Username"${hint}>
<input required type="password" name="password" placeholder="Password">
<button type="submit">Sign-in</button>
</form>`;
}

function consentForm(uid, client, details, params) {
  const scopes = (details.missingOIDCScope || []).map((s) => `<li>${esc(s)}</li>`).join('');
  const claims = (details.missingOIDCClaims || []).map((s) => `<li>${esc(s)}</li>`).join('');
  // What the client registered about itself (oidcc-registration-logo-uri,
  // -policy-uri, -tos-uri): its logo, privacy policy and terms of service.
  const logo = client?.logoUri ? `<p><img alt="client logo" src="${esc(client.logoUri)}"></p>\n` : '';
  const policy = client?.policyUri ? `<p><a href="${esc(client.policyUri)}">Privacy policy</a></p>\n` : '';
  const tos = client?.tosUri ? `<p><a href="${esc(client.tosUri)}">Terms of service</a></p>\n` : '';
  return `${logo}<p>${esc(client?.clientName || params.client_id)} is requesting access.</p>
${policy}${tos}
<ul>${scopes ? `<li>scopes:<ul>${scopes}</ul></li>` : ''}${claims ? `<li>claims:<ul>${claims}</ul></li>` : ''}</ul>
<form autocomplete="off" action="/interaction/${esc(uid)}" method="post">
<input type="hidden" name="prompt" value="consent"/>
<button autofocus type="submit">Continue</button>
</form>`;
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function html(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}

const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]+)(\/abort)?$/;

provider.use(async (ctx, next) => {
  const m = INTERACTION.exec(ctx.path);
  if (!m) return next();
  const [, uid, abort] = m;
  const abortUrl = `/interaction/${uid}/abort`;

  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    // unknown / expired interaction, or missing interaction cookie
    return html(ctx, 400, page('Error', `<p>${esc(err.error || 'invalid_request')}: ${esc(err.error_description || err.message)}</p>`, '/'));
  }
  if (details.uid !== uid) {
    return html(ctx, 400, page('Error', '<p>invalid_request: interaction mismatch</p>', '/'));
  }
  const { prompt, params, session, grantId } = details;

  const finish = async (result, merge) => {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: merge,
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(returnTo);
  };

  if (abort) {
    if (ctx.method !== 'GET') return html(ctx, 405, page('Error', '<p>method not allowed</p>', '/'));
    return finish({ error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
  }

  const client = await provider.Client.find(params.client_id);

  if (ctx.method === 'GET') {
    switch (prompt.name) {
      case 'login':
        return html(ctx, 200, page('Sign-in', loginForm(uid, params), abortUrl));
      case 'consent':
        return html(ctx, 200, page('Authorize', consentForm(uid, client, prompt.details, params), abortUrl));
      default:
        return html(ctx, 501, page('Error', `<p>prompt ${esc(prompt.name)} not implemented</p>`, abortUrl));
    }
  }

  if (ctx.method !== 'POST') {
    return html(ctx, 405, page('Error', '<p>method not allowed</p>', abortUrl));
  }

  const form = await readForm(ctx.req);
  const submitted = form.get('prompt');
  if (submitted !== prompt.name) {
    return html(ctx, 400, page('Error', `<p>invalid_request: expected prompt ${esc(prompt.name)}</p>`, abortUrl));
  }

  if (prompt.name === 'login') {
    const login = form.get('login') || '';
    const user = USERS.get(login);
    if (!user || form.get('password') !== user.password) {
      return html(ctx, 200, page('Sign-in', loginForm(uid, params, 'Invalid username or password.'), abortUrl));
    }
    return finish({
      login: {
        accountId: login, acr: ACR, amr: ['pwd'], remember: true,
      },
    }, false);
  }

  if (prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) {
      for (const [indicator, scope] of Object.entries(d.missingResourceScopes)) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
    }
    return finish({ consent: { grantId: await grant.save() } }, true);
  }

  return html(ctx, 501, page('Error', `<p>prompt ${esc(prompt.name)} not implemented</p>`, abortUrl));
});

// ------------------------------------------------------------------ server --

const server = https.createServer({
  cert: fs.readFileSync(TLS_CERT),
  key: fs.readFileSync(TLS_KEY),
}, provider.callback());

server.listen(PORT, '127.0.0.1', () => {
  console.log(`oidc-provider listening, issuer ${ISSUER}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
