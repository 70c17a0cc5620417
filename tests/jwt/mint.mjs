// Mints JWT test vectors with npm jose, an implementation independent of common/jwt.
//   node mint.mjs OUTDIR
// writes OUTDIR/jwks.json (public keys, plus the oct key for HS256) and OUTDIR/cases.json:
// {issuer, audience, leeway, now, cases: [{name, token, expect}]} where expect is "ok" or
// the reason name jwt::reasonName gives. Keys are new on every run.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as jose from 'jose';

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node mint.mjs OUTDIR');
  process.exit(2);
}

const issuer = 'https://users.local';
const audience = 'shop';
const leeway = 30;
const now = Math.floor(Date.now() / 1000);

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const json64 = (value) => b64url(JSON.stringify(value));

// One key per algorithm, each pinned by the alg in its JWK.
const keys = {};
for (const alg of ['ES256', 'RS256', 'PS256', 'EdDSA']) {
  keys[alg] = { kid: `${alg.toLowerCase()}-1`, ...(await jose.generateKeyPair(alg, { extractable: true })) };
}
const hsSecret = await jose.generateSecret('HS256', { extractable: true });
keys.HS256 = { kid: 'hs256-1', privateKey: hsSecret, publicKey: hsSecret };
const stranger = { kid: 'es256-stranger', ...(await jose.generateKeyPair('ES256')) };

const jwks = { keys: [] };
for (const [alg, key] of Object.entries(keys)) {
  jwks.keys.push({ ...(await jose.exportJWK(key.publicKey)), kid: key.kid, alg, use: 'sig' });
}

const claims = (extra = {}) => ({
  iss: issuer, aud: audience, sub: 'user-1', roles: ['customer'], iat: now, exp: now + 600, ...extra,
});
const sign = (alg, key, payload, header = {}) =>
  new jose.SignJWT(payload).setProtectedHeader({ alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);

// Changes one byte in the middle of a segment (0 header, 1 payload, 2 signature), keeping
// the base64url canonical so that only the signature check can notice.
const flipByte = (token, segment) => {
  const parts = token.split('.');
  const bytes = Buffer.from(parts[segment], 'base64url');
  bytes[bytes.length >> 1] ^= 0x01;
  parts[segment] = b64url(bytes);
  return parts.join('.');
};

const cases = [];
const add = (name, token, expect) => cases.push({ name, token, expect });

for (const [alg, key] of Object.entries(keys)) {
  const token = await sign(alg, key, claims());
  add(`${alg}_valid`, token, 'ok');
  add(`${alg}_tampered_signature`, flipByte(token, 2), 'bad_signature');
}

const es = keys.ES256;
const valid = await sign('ES256', es, claims());
add('expired', await sign('ES256', es, claims({ iat: now - 7200, exp: now - 3600 })), 'expired');
add('expired_within_leeway', await sign('ES256', es, claims({ exp: now - 10 })), 'ok');
add('not_yet_valid', await sign('ES256', es, claims({ nbf: now + 3600 })), 'not_yet_valid');
add('issued_in_future', await sign('ES256', es, claims({ iat: now + 3600 })), 'issued_in_future');
add('wrong_issuer', await sign('ES256', es, claims({ iss: 'https://evil.local' })), 'bad_issuer');
add('wrong_audience', await sign('ES256', es, claims({ aud: 'other' })), 'bad_audience');
add('audience_array_with_ours', await sign('ES256', es, claims({ aud: ['other', audience] })), 'ok');
add('roles_as_string', await sign('RS256', keys.RS256, claims({ roles: 'customer courier' })), 'ok');
add('missing_exp', await sign('ES256', es, claims({ exp: undefined })), 'malformed');
add('unknown_kid', await sign('ES256', stranger, claims()), 'unknown_kid');

const [vh, vp, vs] = valid.split('.');
// The payload swapped for another subject, header and signature kept.
add('tampered_payload', `${vh}.${json64(claims({ sub: 'admin', roles: ['admin'] }))}.${vs}`, 'bad_signature');
// ES256 signatures are exactly 64 bytes (r || s); two more must not be ignored.
const longer = b64url(Buffer.concat([Buffer.from(vs, 'base64url'), Buffer.alloc(2)]));
add('es256_signature_wrong_length', `${vh}.${vp}.${longer}`, 'bad_signature');

add('alg_none', new jose.UnsecuredJWT(claims()).encode(), 'alg_mismatch');
add('alg_none_with_kid', `${json64({ alg: 'none', kid: es.kid })}.${json64(claims())}.`, 'alg_mismatch');

// Algorithm confusion: HS256 "signed" with the RSA public key's PEM as the HMAC secret,
// naming the RSA key, as a verifier that lets the token choose the algorithm would accept.
const rsaPem = await jose.exportSPKI(keys.RS256.publicKey);
add('hs256_with_rsa_public_key',
    await new jose.SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: keys.RS256.kid })
      .sign(new TextEncoder().encode(rsaPem)),
    'alg_mismatch');
// The same RSA key, used with the RSA algorithm it is not pinned to.
const rsaAsPss = await jose.importPKCS8(await jose.exportPKCS8(keys.RS256.privateKey), 'PS256');
add('ps256_with_rs256_key', await sign('PS256', { kid: keys.RS256.kid, privateKey: rsaAsPss }, claims()),
    'alg_mismatch');

add('malformed_two_segments', `${vh}.${vp}`, 'malformed');
add('malformed_four_segments', `${valid}.${vp}`, 'malformed');
add('malformed_bad_base64', `${vh}.${vp.slice(0, 8)}!${vp.slice(9)}.${vs}`, 'malformed');
add('malformed_header_not_json', `${b64url('{alg:ES256}')}.${vp}.${vs}`, 'malformed');
add('malformed_empty', '', 'malformed');
add('huge', await sign('ES256', es, claims({ pad: 'x'.repeat(10000) })), 'too_large');

writeFileSync(join(outDir, 'jwks.json'), JSON.stringify(jwks, null, 2));
writeFileSync(join(outDir, 'cases.json'),
              JSON.stringify({ issuer, audience, leeway, now, cases }, null, 2));
console.log(`minted ${cases.length} cases and ${jwks.keys.length} keys into ${outDir}`);
