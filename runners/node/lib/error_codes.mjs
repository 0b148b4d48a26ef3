// Generated from motia_core/protocol/errors.py by `make schema`: do not edit.
//
// JSON-RPC errors of protocol v1, one class per code (the base is in
// rpc_error.mjs).

import { RpcError, define } from './rpc_error.mjs';

export { RpcError };

/** The message is not valid JSON. */
export const ParseError = define('ParseError', -32700, 'Parse error');

/** The JSON is not a valid JSON-RPC 2.0 request, response or notification. */
export const InvalidRequest = define('InvalidRequest', -32600, 'Invalid request');

/** No such method on this peer. */
export const MethodNotFound = define('MethodNotFound', -32601, 'Method not found');

/** The params do not match the method's schema. */
export const InvalidParams = define('InvalidParams', -32602, 'Invalid params');

/** A bug in the peer that answered; `data.stack` has its traceback. */
export const InternalError = define('InternalError', -32603, 'Internal error');

/** The request was cancelled with `$/cancelRequest` (the code LSP uses). */
export const RequestCancelled = define('RequestCancelled', -32800, 'Request cancelled');

/** The step's handler raised; `data` is {name, message, stack}. */
export const HandlerError = define('HandlerError', -32001, 'Step handler failed');

/** The runner has no loaded step for that file. */
export const StepNotFound = define('StepNotFound', -32002, 'Step not found');

/** A step or stream file could not be loaded or its config is invalid. */
export const InvalidConfig = define('InvalidConfig', -32003, 'Invalid step config');

/** The invocation ran past its deadline and was cancelled. */
export const TimedOut = define('TimedOut', -32004, 'Step execution timed out');

/** The runner process died (or broke the protocol) while the request was pending. */
export const RunnerCrashed = define('RunnerCrashed', -32005, 'Runner crashed');

/** The two sides do not speak a common protocol version. */
export const UnsupportedProtocolVersion =
  define('UnsupportedProtocolVersion', -32006, 'Unsupported protocol version');

/** A message exceeds the agreed maximum size. */
export const MessageTooLarge = define('MessageTooLarge', -32007, 'Message too large');

/** No runner process is ready to take the request (starting, backing off, or given up). */
export const RunnerNotReady = define('RunnerNotReady', -32008, 'Runner not ready');

/** A callback names an invocation that is not running (it ended, or never existed). */
export const InvocationNotFound = define('InvocationNotFound', -32009, 'Invocation not found');

/** The peer is shutting down and takes no new work. */
export const ShuttingDown = define('ShuttingDown', -32010, 'Shutting down');

/** Every error class by name (what the code-table test reads). */
export const ERRORS = {
  ParseError,
  InvalidRequest,
  MethodNotFound,
  InvalidParams,
  InternalError,
  RequestCancelled,
  HandlerError,
  StepNotFound,
  InvalidConfig,
  TimedOut,
  RunnerCrashed,
  UnsupportedProtocolVersion,
  MessageTooLarge,
  RunnerNotReady,
  InvocationNotFound,
  ShuttingDown,
};
