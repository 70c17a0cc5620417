// Mints keys and tokens for test_jwt.py with npm jose (independent of the balancer's code).
//   node jwt_mint.mjs OUTDIR [KID_SUFFIX]
// writes OUTDIR/jwks.json (public keys) and OUTDIR/tokens.json {name: token}. KID_SUFFIX
// makes the kids es-1SUFFIX and rs-1SUFFIX (another key set, as after a rotation).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as jose from 'jose';

const outDir = process.argv[2];
const suffix = process.argv[3] ?? '';
const issuer = 'https://users.local';
const audience = 'shop';
const now = Math.floor(Date.now() / 1000);

const es = { kid: `es-1${suffix}`, ...(await jose.generateKeyPair('ES256', { extractable: true })) };
const rs = { kid: `rs-1${suffix}`, ...(await jose.generateKeyPair('RS256', { extractable: true })) };
const jwks = { keys: [
  { ...(await jose.exportJWK(es.publicKey)), kid: es.kid, alg: 'ES256', use: 'sig' },
  { ...(await jose.exportJWK(rs.publicKey)), kid: rs.kid, alg: 'RS256', use: 'sig' },
] };

const sign = (key, alg, claims) =>
  new jose.SignJWT(claims).setProtectedHeader({ alg, kid: key.kid }).sign(key.privateKey);
const base = (extra = {}) => ({ iss: issuer, aud: audience, sub: 'user-7', roles: ['customer'],
                                iat: now, exp: now + 600, ...extra });

const tokens = {
  customer: await sign(es, 'ES256', base()),
  courier: await sign(rs, 'RS256', base({ sub: 'courier-3', roles: ['courier'] })),
  customer_rs: await sign(rs, 'RS256', base()),  // the same sub as customer, another token
  expired: await sign(es, 'ES256', base({ exp: now - 3600, iat: now - 7200 })),
  wrong_audience: await sign(es, 'ES256', base({ aud: 'elsewhere' })),
  // Valid for 4 s from minting (a WebSocket it opens must close then, plus leeway).
  short_lived: await sign(es, 'ES256', base({ exp: now + 4 })),
};
// alg: none, and a tampered payload on a valid signature
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
tokens.alg_none = `${b64({ alg: 'none', kid: es.kid })}.${b64(base({ roles: ['admin'] }))}.`;
const [h, , sig] = tokens.customer.split('.');
tokens.tampered = `${h}.${b64(base({ sub: 'admin-1', roles: ['admin'] }))}.${sig}`;

writeFileSync(join(outDir, 'jwks.json'), JSON.stringify(jwks));
writeFileSync(join(outDir, 'tokens.json'), JSON.stringify(tokens));
