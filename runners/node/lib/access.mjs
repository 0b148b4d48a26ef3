// streams.canAccess (PROTOCOL.md 3.8): a stream file's config.canAccess, evaluated for one
// WebSocket join.
//
// The original spawned a process per join to import the stream file and call the function
// (can-access.mjs); here the file is already loaded, so a join costs one round trip. The
// function gets what the original gave it: the subscription ({groupId, id?}) and the auth
// context, and may return a boolean or a promise of one.

import { InvalidParams, StepNotFound, handlerError } from './errors.mjs';

function subscriptionOf(params) {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new InvalidParams('streams.canAccess: params must be an object');
  }
  if (typeof params.file !== 'string') {
    throw new InvalidParams('streams.canAccess: params.file must be a string (the stream file)');
  }
  const sub = params.subscription;
  if (sub === null || typeof sub !== 'object' || typeof sub.groupId !== 'string'
      || (sub.id !== undefined && sub.id !== null && typeof sub.id !== 'string')) {
    throw new InvalidParams('streams.canAccess: params.subscription must be an object with a '
      + 'string groupId and an optional string id');
  }
  return typeof sub.id === 'string' ? { groupId: sub.groupId, id: sub.id } : { groupId: sub.groupId };
}

/** The join's verdict (true or false); throws an RpcError the server sends back. */
export async function canAccess(steps, params) {
  const subscription = subscriptionOf(params);
  const step = steps.get(params.file);
  if (step === undefined) {
    throw new StepNotFound(`streams.canAccess: no stream loaded from '${params.file}'; send `
      + 'steps.load for it first, or fix the error its load reported');
  }
  if (step.canAccess === null) return true; // reloaded without canAccess: open, as in the original
  try {
    return Boolean(await step.canAccess(subscription, params.authContext));
  } catch (error) {
    throw handlerError(error);
  }
}
