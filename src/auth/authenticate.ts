import type { Queryable } from '../store/db';
import { principalByKeyHash } from '../store/api-key-store';
import { unauthorized } from '../ngsi-ld/errors';
import { hashApiKey, KEY_PREFIX } from './api-keys';
import { JwtVerifier, TokenRejected } from './jwt';
import type { Principal } from './principal';

/**
 * Credentials → principal. One scheme on the wire: `Authorization: Bearer <credential>`, where
 * the credential is either a JWT (three base64url parts; accepted when a JWKS is configured) or
 * an API key. Anything missing, unknown, revoked, expired or badly signed is 401.
 */
export class Authenticator {
  constructor(
    private readonly db: Queryable,
    private readonly jwt?: JwtVerifier,
  ) {}

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) {
      throw unauthorized(authorization ? 'the Authorization header must be `Bearer <API key or token>`' : 'authentication required: Authorization: Bearer <API key or token>');
    }
    const credential = match[1];
    // a JWT is three base64url parts; anything else (generated keys, an operator's ADMIN_API_KEY) is a key
    const looksLikeJwt = !credential.startsWith(KEY_PREFIX) && /^[\w-]+\.[\w-]+\.[\w-]*$/.test(credential);
    if (!looksLikeJwt) {
      const principal = await principalByKeyHash(this.db, hashApiKey(credential));
      if (!principal) throw unauthorized('the API key is unknown, revoked or expired');
      return principal;
    }
    if (!this.jwt) throw unauthorized('bearer tokens are not accepted here (no JWKS is configured); use an API key');
    try {
      return await this.jwt.verify(credential);
    } catch (err) {
      if (err instanceof TokenRejected) throw unauthorized(err.message);
      throw err;
    }
  }
}
