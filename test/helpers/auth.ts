import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { expectStatus, json } from './ngsi';

/** Credentials for the auth suites: a bootstrap admin key, keys made through the admin API, JWTs. */

export const ADMIN_KEY = 'test-bootstrap-admin-key-0123456789abcdef';
export const ISSUER = 'https://id.valmalenco.example/realms/smartland';
export const AUDIENCE = 'smartland-api';

export const bearer = (credential: string): Record<string, string> => ({ authorization: `Bearer ${credential}` });

/** The env of a service with authentication on and a JWKS file (see jwtSigner). */
export const authEnv = (jwksFile: string, extra: Record<string, string> = {}): Record<string, string> => ({
  AUTH: 'on', ADMIN_API_KEY: ADMIN_KEY, JWKS_FILE: jwksFile, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, NOTIFY_WORKER: 'off', ...extra,
});

export interface KeyGrant {
  name: string;
  roles: string[];
  tenants: string[];
  projects?: string[];
  entityTypes?: string[];
  idPrefixes?: string[];
  expiresAt?: string;
}

/** Creates an API key through POST /api/v1/admin/keys; returns the key and its id. */
export async function createKey(app: FastifyInstance, grant: KeyGrant): Promise<{ key: string; id: string }> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/admin/keys', headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json' }, payload: grant });
  const body = json(expectStatus(res, 201));
  return { key: body.key, id: body.id };
}

export interface JwtSigner {
  jwksFile: string;
  /** a token from the configured issuer for the configured audience, valid for an hour, unless overridden */
  sign(claims: Record<string, unknown>, opts?: { issuer?: string; audience?: string; expiresAt?: number; otherKey?: boolean }): Promise<string>;
}

/** An ES256 key pair (and a stranger's) made with jose; the JWKS with the public key in a tmp file. */
export async function jwtSigner(): Promise<JwtSigner> {
  const jose = await import('jose');
  const mine = await jose.generateKeyPair('ES256');
  const other = await jose.generateKeyPair('ES256');
  const jwk = { ...(await jose.exportJWK(mine.publicKey)), kid: 'test-1', alg: 'ES256', use: 'sig' };
  const jwksFile = join(mkdtempSync(join(os.tmpdir(), 'smartland-jwks-')), 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  return {
    jwksFile,
    async sign(claims, opts = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new jose.SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'test-1' })
        .setIssuer(opts.issuer ?? ISSUER)
        .setAudience(opts.audience ?? AUDIENCE)
        .setIssuedAt(now - 10)
        .setExpirationTime(opts.expiresAt ?? now + 3600)
        .sign(opts.otherKey ? other.privateKey : mine.privateKey);
    },
  };
}
