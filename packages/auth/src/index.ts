export {
  ALGORITHM,
  DEFAULT_AUDIENCE,
  DEFAULT_ISSUER,
  InvalidTokenError,
  createTokenIssuer,
  createTokenVerifier,
  generateSigningKeys,
  type Principal,
  type Role,
  type TokenIssuer,
  type TokenSettings,
  type TokenVerifier,
} from './tokens.ts'
export { TOKEN_CACHE_DEFAULTS, createCachingVerifier, tokenExpiryMs, type CachingTokenVerifier, type TokenCacheOptions } from './token-cache.ts'
export { AUTH_ERROR_CODES, Forbidden, Unauthenticated, authentication, type AuthRouteConfig, type AuthenticationOptions } from './plugin.ts'
