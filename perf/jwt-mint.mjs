// Keys and tokens for perf/compare's jwt scenario, minted with npm jose (an implementation
// independent of the balancer's), the copy installed for the integration tests.
//   node perf/jwt-mint.mjs OUTDIR N
// writes OUTDIR/jwks.json (one fresh ES256 public key, kid perf-es-1), OUTDIR/public.pem (the
// same key as PEM, for HAProxy's jwt_verify),
// OUTDIR/token.txt (one valid token: the one wrk sends to /open and /auth) and
// OUTDIR/tokens.txt (N distinct valid tokens, one per line, for the uncached run).
// Tokens are valid for 2 hours; iss https://users.local, aud shop, sub and roles set.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const anchor = join(here, '..', 'tests', 'integration', 'package.json');
const jose = await import(pathToFileURL(createRequire(anchor).resolve('jose')).href);

const outDir = process.argv[2];
const n = parseInt(process.argv[3] || '0', 10);
if (!outDir || !(n >= 0)) {
  console.error('usage: node perf/jwt-mint.mjs OUTDIR N');
  process.exit(2);
}
const issuer = 'https://users.local';
const audience = 'shop';
const now = Math.floor(Date.now() / 1000);
const kid = 'perf-es-1';

const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
const jwks = { keys: [{ ...(await jose.exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] };

const sign = (claims) =>
  new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).sign(privateKey);
const claims = (i) => ({ iss: issuer, aud: audience, sub: `user-${i}`, roles: ['customer'],
                         iat: now, exp: now + 7200 });

const token = await sign(claims(7));
const many = [];
for (let i = 0; i < n; i++) many.push(await sign({ ...claims(100000 + i), jti: `perf-${i}` }));

writeFileSync(join(outDir, 'jwks.json'), JSON.stringify(jwks));
writeFileSync(join(outDir, 'public.pem'), await jose.exportSPKI(publicKey));
writeFileSync(join(outDir, 'token.txt'), token + '\n');
writeFileSync(join(outDir, 'tokens.txt'), many.join('\n') + (n ? '\n' : ''));
console.log(`minted ${1 + n} ES256 tokens (kid ${kid}) in ${outDir}`);
