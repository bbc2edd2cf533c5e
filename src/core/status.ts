/**
 * The one builder of Kubernetes `Status` objects, the body of every answer that is not
 * an object: the API's errors and every webhook reply. `reason` is left out when none
 * is given (OpenShift answers a webhook's success without one).
 */

export interface StatusCause {
  field: string;
  message: string;
  reason: string;
}

export interface StatusObject {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message: string;
  reason?: string;
  code: number;
  details?: { name?: string; kind?: string; causes?: StatusCause[] };
}

/** Success for codes under 400, Failure from 400 up. */
export function statusObject(input: {
  code: number;
  message: string;
  reason?: string | undefined;
  details?: StatusObject['details'] | undefined;
}): StatusObject {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: input.code < 400 ? 'Success' : 'Failure',
    message: input.message,
    ...(input.reason === undefined ? {} : { reason: input.reason }),
    code: input.code,
    ...(input.details === undefined ? {} : { details: input.details }),
  };
}
