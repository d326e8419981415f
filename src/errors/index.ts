/**
 * EC2 errors. Every error a client can see is an Ec2Error with AWS's code, message and HTTP status;
 * anything else that escapes a handler becomes InternalError (500) without its stack.
 */
export class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'Ec2Error';
  }
}

export const missingParameter = (name: string) =>
  new Ec2Error('MissingParameter', `The request must contain the parameter ${name}`);
export const invalidParameterValue = (name: string, value: unknown, why?: string) =>
  new Ec2Error(
    'InvalidParameterValue',
    `Value (${String(value)}) for parameter ${name} is invalid.${why ? ` ${why}` : ''}`,
  );
export const invalidParameter = (message: string) => new Ec2Error('InvalidParameter', message);
export const invalidParameterCombination = (message: string) =>
  new Ec2Error('InvalidParameterCombination', message);
export const unknownParameter = (name: string) =>
  new Ec2Error('UnknownParameter', `The parameter ${name} is not recognized`);
export const invalidAction = (action: string) =>
  new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
export const unsupportedOperation = (message: string) => new Ec2Error('UnsupportedOperation', message);
export const dryRunOperation = () =>
  new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
export const invalidFilter = (name: string) =>
  new Ec2Error('InvalidParameterValue', `The filter '${name}' is invalid`);
export const invalidPaginationToken = (token: string) =>
  new Ec2Error('InvalidPaginationToken', `The pagination token ${token} is invalid.`);
export const internalError = () =>
  new Ec2Error('InternalError', 'An internal error has occurred', 500);
export const incorrectState = (code: string, message: string) => new Ec2Error(code, message);

// Authentication (statuses as EC2 sends them)
export const missingAuthenticationToken = () =>
  new Ec2Error(
    'MissingAuthenticationToken',
    'The request must contain either a valid (registered) AWS access key ID or X.509 certificate.',
    401,
  );
export const incompleteSignature = (why: string) => new Ec2Error('IncompleteSignature', why, 400);
export const authFailure = () =>
  new Ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials', 401);
export const signatureDoesNotMatch = () =>
  new Ec2Error(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    403,
  );
export const requestExpired = () => new Ec2Error('RequestExpired', 'Request has expired.', 400);

/** `<Resource>.NotFound`, e.g. notFound('InvalidInstanceID', 'instance ID', ['i-1']) */
export function notFound(codePrefix: string, noun: string, ids: string[]): Ec2Error {
  const list = ids.map((i) => `'${i}'`).join(', ');
  const plural = ids.length > 1;
  return new Ec2Error(
    `${codePrefix}.NotFound`,
    `The ${noun}${plural ? 's' : ''} ${list} ${plural ? 'do' : 'does'} not exist`,
  );
}

export function malformed(codePrefix: string, noun: string, id: string): Ec2Error {
  return new Ec2Error(`${codePrefix}.Malformed`, `Invalid id: "${id}" (expecting "${noun}")`);
}
