import { readFileSync } from 'node:fs';
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import { principalFromClaims, type Principal } from './principal';

/**
 * Bearer JWTs (OAuth2 / OpenID Connect access tokens) verified with jose against a JWKS from a
 * file or from a URL (config.ts requires its host on JWKS_ALLOW_HOSTS): signature, issuer,
 * audience, expiry and not-before (30 s clock tolerance). Only asymmetric algorithms are
 * accepted, so a token signed with a public key as an HMAC secret is refused.
 */

export interface JwtOptions {
  jwksFile?: string;
  jwksUrl?: string;
  issuer: string;
  audience: string;
}

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export class TokenRejected extends Error {}

type Jose = typeof import('jose');

export class JwtVerifier {
  private constructor(
    private readonly opts: JwtOptions,
    private readonly jose: Jose,
    private readonly keys: JWTVerifyGetKey,
  ) {}

  static async create(opts: JwtOptions): Promise<JwtVerifier> {
    // jose ships as an ES module only; import() keeps this file CommonJS
    const jose = await import('jose');
    if (opts.jwksFile) {
      return new JwtVerifier(opts, jose, jose.createLocalJWKSet(JSON.parse(readFileSync(opts.jwksFile, 'utf8')) as JSONWebKeySet));
    }
    if (opts.jwksUrl) {
      return new JwtVerifier(opts, jose, jose.createRemoteJWKSet(new URL(opts.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 }));
    }
    throw new Error('JwtVerifier needs JWKS_FILE or JWKS_URL');
  }

  async verify(token: string): Promise<Principal> {
    const { jwtVerify, errors: joseErrors } = this.jose;
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        algorithms: ALGORITHMS,
        clockTolerance: 30,
        requiredClaims: ['exp', 'sub'],
      });
      return principalFromClaims(payload as Record<string, unknown>);
    } catch (err) {
      // the reason goes to the client (it is about its own token); nothing of the key set does
      if (err instanceof joseErrors.JWTExpired) throw new TokenRejected('the token has expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed) throw new TokenRejected(`the token's ${err.claim} claim is not accepted`);
      if (err instanceof joseErrors.JOSEError) throw new TokenRejected(`the token is not valid (${err.code})`);
      throw err;
    }
  }
}
