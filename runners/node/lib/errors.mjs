// JSON-RPC errors of protocol v1, one class per code, and how a thrown value becomes one.
//
// The runner cannot import the core, so the classes are generated into error_codes.mjs from the
// core's table (motia_core/protocol/errors.py) by `make schema`, and committed; a test fails when
// they are stale. User code sees these too: a ctx.state / ctx.emit / ctx.streams call the core
// refuses rejects with the matching subclass of RpcError.

import { HandlerError } from './error_codes.mjs';

export * from './error_codes.mjs';

const RUNNER_DIR = new URL('..', import.meta.url).pathname;

/** A stack with the runner's own frames and Node's internals left out. */
export function userStack(error) {
  const stack = typeof error?.stack === 'string' ? error.stack : String(error);
  return stack.split('\n')
    .filter((line) => !(/^\s+at /.test(line)
      && (line.includes(RUNNER_DIR) || /[( ]node:/.test(line) || line.includes('(<anonymous>)'))))
    .join('\n');
}

/** HandlerError with {name, message, stack} for anything a handler threw. */
export function handlerError(error, prefix = '') {
  const isError = error instanceof Error || (error !== null && typeof error === 'object'
    && typeof error.message === 'string');
  const name = isError ? String(error.name || error.constructor?.name || 'Error') : 'Error';
  const message = isError ? error.message : describe(error);
  const stack = isError && typeof error.stack === 'string' ? userStack(error) : `${name}: ${message}`;
  const text = message ? `${name}: ${message}` : name;
  return new HandlerError(prefix + text, { name, message, stack });
}

function describe(value) {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
