// JSON-RPC errors of protocol v1, one class per code, mirroring motia_core/errors.py.
//
// The runner cannot import the core, so the codes are repeated here;
// tests/integration/test_node_runner.py checks them against the core's table. User code sees
// these too: a ctx.state / ctx.emit / ctx.streams call the core refuses rejects with the
// matching subclass of RpcError.

export class RpcError extends Error {
  static CODE = -32000;
  static MESSAGE = 'Server error';

  constructor(message, data) {
    super(message || new.target.MESSAGE);
    this.name = new.target.name;
    this.code = new.target.CODE;
    if (data !== undefined && data !== null) this.data = data;
  }

  /** The wire form: {code, message, data?}. */
  toError() {
    const error = { code: this.code, message: this.message };
    if (this.data !== undefined) error.data = this.data;
    return error;
  }

  /** The received error object as an instance of the class matching its code. */
  static fromError(error) {
    if (error === null || typeof error !== 'object') {
      return new RpcError(`malformed error object from the core: ${JSON.stringify(error)}`);
    }
    const Klass = BY_CODE.get(error.code) || RpcError;
    const exc = new Klass(String(error.message ?? ''), error.data);
    if (Klass === RpcError && Number.isInteger(error.code)) exc.code = error.code;
    return exc;
  }
}

const define = (name, code, message) => {
  const klass = { [name]: class extends RpcError {} }[name];
  klass.CODE = code;
  klass.MESSAGE = message;
  return klass;
};

export const ParseError = define('ParseError', -32700, 'Parse error');
export const InvalidRequest = define('InvalidRequest', -32600, 'Invalid request');
export const MethodNotFound = define('MethodNotFound', -32601, 'Method not found');
export const InvalidParams = define('InvalidParams', -32602, 'Invalid params');
export const InternalError = define('InternalError', -32603, 'Internal error');
export const RequestCancelled = define('RequestCancelled', -32800, 'Request cancelled');
export const HandlerError = define('HandlerError', -32001, 'Step handler failed');
export const StepNotFound = define('StepNotFound', -32002, 'Step not found');
export const InvalidConfig = define('InvalidConfig', -32003, 'Invalid step config');
export const TimedOut = define('TimedOut', -32004, 'Step execution timed out');
export const RunnerCrashed = define('RunnerCrashed', -32005, 'Runner crashed');
export const UnsupportedProtocolVersion =
  define('UnsupportedProtocolVersion', -32006, 'Unsupported protocol version');
export const MessageTooLarge = define('MessageTooLarge', -32007, 'Message too large');
export const RunnerNotReady = define('RunnerNotReady', -32008, 'Runner not ready');
export const InvocationNotFound = define('InvocationNotFound', -32009, 'Invocation not found');
export const ShuttingDown = define('ShuttingDown', -32010, 'Shutting down');

/** Every error class by name (what the code-table test reads). */
export const ERRORS = {
  ParseError, InvalidRequest, MethodNotFound, InvalidParams, InternalError, RequestCancelled,
  HandlerError, StepNotFound, InvalidConfig, TimedOut, RunnerCrashed, UnsupportedProtocolVersion,
  MessageTooLarge, RunnerNotReady, InvocationNotFound, ShuttingDown,
};

const BY_CODE = new Map(Object.values(ERRORS).map((klass) => [klass.CODE, klass]));

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
