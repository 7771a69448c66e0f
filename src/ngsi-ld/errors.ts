/**
 * The one error type of the service: it carries the ETSI NGSI-LD problem type and the HTTP status,
 * and the error-handler plugin turns it into an application/problem+json body.
 */
export type ProblemType =
  | 'BadRequestData'
  | 'InvalidRequest'
  | 'ResourceNotFound'
  | 'AlreadyExists'
  | 'OperationNotSupported'
  | 'LdContextNotAvailable'
  | 'NonexistentTenant'
  | 'TooManyResults'
  | 'NoMultiTenantSupport'
  | 'InternalError'
  | 'Unauthorized'
  | 'Forbidden'
  | 'TooManyRequests'
  | 'ServiceUnavailable';

export const PROBLEM_BASE = 'https://uri.etsi.org/ngsi-ld/errors/';
/** ETSI defines no authentication, rate-limit or overload problem types: ours are not under its base URI */
const OWN_PROBLEM_BASE = 'urn:smartland:errors:';
const OWN_TYPES: ReadonlySet<ProblemType> = new Set(['Unauthorized', 'Forbidden', 'TooManyRequests', 'ServiceUnavailable']);

const TITLES: Record<ProblemType, string> = {
  BadRequestData: 'Bad Request Data',
  InvalidRequest: 'Invalid Request',
  ResourceNotFound: 'Resource Not Found',
  AlreadyExists: 'Already Exists',
  OperationNotSupported: 'Operation Not Supported',
  LdContextNotAvailable: 'LD Context Not Available',
  NonexistentTenant: 'Nonexistent Tenant',
  TooManyResults: 'Too Many Results',
  NoMultiTenantSupport: 'No Multi-Tenant Support',
  InternalError: 'Internal Error',
  Unauthorized: 'Unauthorized',
  Forbidden: 'Forbidden',
  TooManyRequests: 'Too Many Requests',
  ServiceUnavailable: 'Service Unavailable',
};

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
}

export class NgsiError extends Error {
  constructor(
    readonly problemType: ProblemType,
    readonly status: number,
    readonly detail: string,
    /** extra response headers, e.g. Accept-Patch on 415 */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'NgsiError';
  }

  toProblem(instance?: string): ProblemDetails {
    return {
      type: (OWN_TYPES.has(this.problemType) ? OWN_PROBLEM_BASE : PROBLEM_BASE) + this.problemType,
      title: TITLES[this.problemType],
      status: this.status,
      detail: this.detail,
      ...(instance ? { instance } : {}),
    };
  }
}

export const badRequestData = (detail: string) => new NgsiError('BadRequestData', 400, detail);
export const invalidRequest = (detail: string) => new NgsiError('InvalidRequest', 400, detail);
export const notFound = (detail: string) => new NgsiError('ResourceNotFound', 404, detail);
export const alreadyExists = (detail: string) => new NgsiError('AlreadyExists', 409, detail);
export const notSupported = (detail: string) => new NgsiError('OperationNotSupported', 501, detail);
export const contextNotAvailable = (detail: string) => new NgsiError('LdContextNotAvailable', 503, detail);
export const nonexistentTenant = (tenant: string) =>
  new NgsiError('NonexistentTenant', 404, `Tenant '${tenant}' does not exist`);
export const tooManyResults = (detail: string) => new NgsiError('TooManyResults', 403, detail);
/** 401: no or unusable credentials; the challenge names the accepted scheme (RFC 6750). */
export const unauthorized = (detail: string) =>
  new NgsiError('Unauthorized', 401, detail, { 'WWW-Authenticate': 'Bearer realm="smartland"' });
/** 403: authenticated, but not allowed to do this. */
export const forbidden = (detail: string) => new NgsiError('Forbidden', 403, detail);
