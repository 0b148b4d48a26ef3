// The runner's side of protocol v1: lifecycle, the step table, and routing of core messages.
//
// step.invoke is the hot path: its params are checked with plain typeof tests and the
// invocation runs as one async function on the event loop, many at once.

import { canAccess } from './access.mjs';
import {
  HandlerError, InternalError, InvalidConfig, InvalidParams, MethodNotFound, RpcError,
  ShuttingDown, StepNotFound, UnsupportedProtocolVersion, handlerError, userStack,
} from './errors.mjs';
import { Invocation, currentInvocation } from './invocation.mjs';
import { execute, stop } from './invoke.mjs';
import { Loader } from './loader.mjs';
import { setOtelRoot } from './otel.mjs';
import { Endpoint } from './rpc.mjs';

export const PROTOCOL_VERSION = 1;
export const RUNNER_INFO = { name: 'motia-node-runner', version: '0.1.0', language: 'node' };
export const FILE_PATTERNS = ['.step.ts', '_step.ts', '.step.js', '_step.js',
  '.stream.ts', '_stream.ts', '.stream.js', '_stream.js'];
const TRIGGERS = new Set(['api', 'event', 'cron']);

const typeName = (value) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);
const bad = (method, field, expected, got) => new InvalidParams(
  `${method}: params.${field} must be ${expected}, got ${typeName(got)}`);
const isStringArray = (value) => Array.isArray(value) && value.every((v) => typeof v === 'string');

function object(method, params) {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new InvalidParams(`${method}: params must be an object, got ${typeName(params)}`);
  }
  return params;
}

export class Server {
  constructor(inFd, out, projectRoot, afterLoad = () => {}) {
    this.afterLoad = afterLoad;
    this.endpoint = new Endpoint(inFd, out, {
      onRequest: (id, method, params) => this.onRequest(id, method, params),
      onNotification: (method, params) => this.onNotification(method, params),
      onClosed: (code) => this.close(code),
    });
    this.loader = new Loader(projectRoot);
    this.steps = new Map();
    this.inflight = new Map(); // request id -> {inv, step, timeoutMs}
    this.streams = [];
    this.validateBodies = true; // until initialize says otherwise
    this.shuttingDown = false;
    this.seen = new Set();
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  /** Resolves with the exit status once `exit`, end of input or a broken channel arrives. */
  run() {
    return this.exited;
  }

  close(code) {
    this.endpoint.reader.stop();
    this.resolveExit(code);
  }

  // --- routing -------------------------------------------------------------------------------

  onRequest(id, method, params) {
    if (method === 'step.invoke') {
      this.invoke(id, params);
      return;
    }
    this.answerRequest(id, method, params);
  }

  async answerRequest(id, method, params) {
    try {
      let result;
      switch (method) {
        case 'initialize': result = this.initialize(params); break;
        case 'steps.load': result = await this.load(params); break;
        case 'shutdown': result = await this.shutdown(); break;
        case 'streams.canAccess': result = await canAccess(this.steps, params); break;
        default:
          throw new MethodNotFound(`'${method}' is not a method of motia-node-runner `
            + `(protocol v${PROTOCOL_VERSION})`);
      }
      this.endpoint.respond(id, result);
    } catch (error) {
      this.endpoint.sendError(id, error instanceof RpcError ? error
        : new InternalError(`${error?.name}: ${error?.message}`, { stack: userStack(error) }));
    }
  }

  onNotification(method, params) {
    if (method === '$/cancelRequest') {
      const target = params !== null && typeof params === 'object' ? params.id : undefined;
      const running = this.inflight.get(target);
      if (running !== undefined) stop(running.inv, 'cancel', running.step, running.timeoutMs);
    } else if (method === 'exit') {
      this.close(0);
    }
    // Other notifications are not ours to answer (JSON-RPC: no response to notifications).
  }

  // --- lifecycle -----------------------------------------------------------------------------

  initialize(params) {
    const p = object('initialize', params);
    if (!Number.isInteger(p.protocolVersion)) {
      throw bad('initialize', 'protocolVersion', 'an integer', p.protocolVersion);
    }
    if (p.protocolVersion !== PROTOCOL_VERSION) {
      throw new UnsupportedProtocolVersion(`motia-node-runner speaks protocol version `
        + `${PROTOCOL_VERSION}, the core asked for ${p.protocolVersion}; upgrade the older of `
        + 'motia-core and the runner', { supported: [PROTOCOL_VERSION] });
    }
    if (typeof p.projectRoot !== 'string') {
      throw bad('initialize', 'projectRoot', 'a string (absolute path)', p.projectRoot);
    }
    const limit = p.maxMessageBytes ?? this.endpoint.maxBytes;
    if (!Number.isInteger(limit) || limit <= 0) {
      throw bad('initialize', 'maxMessageBytes', 'a positive integer', limit);
    }
    const streams = p.streams ?? [];
    if (!isStringArray(streams)) throw bad('initialize', 'streams', 'an array of strings', streams);
    // false: no body check at all, zod's in this runner included (the project's validate_bodies).
    const validateBodies = p.validateBodies ?? true;
    if (typeof validateBodies !== 'boolean') {
      throw bad('initialize', 'validateBodies', 'true or false', validateBodies);
    }
    this.validateBodies = validateBodies;
    this.loader.setRoot(p.projectRoot);
    setOtelRoot(p.projectRoot);
    this.endpoint.setMaxBytes(limit);
    this.streams = streams;
    return {
      protocolVersion: PROTOCOL_VERSION,
      runner: RUNNER_INFO,
      capabilities: { cancellation: true, middleware: true, reload: true, filePatterns: FILE_PATTERNS },
    };
  }

  async load(params) {
    const { files, streams } = object('steps.load', params);
    if (!isStringArray(files)) throw bad('steps.load', 'files', 'an array of absolute paths', files);
    if (streams !== undefined && streams !== null) {
      if (!isStringArray(streams)) throw bad('steps.load', 'streams', 'an array of stream names', streams);
      this.streams = streams;
    }
    const results = [];
    for (const file of files) {
      try {
        const step = await this.loader.load(file, this.seen.has(file));
        this.steps.set(file, step); // the swap: invocations in flight keep the old Step
        const entry = { file, config: step.wireConfig, hasHandler: step.handler !== null };
        if (step.validateBody !== null) entry.validatesBody = true;
        if (step.middleware.length > 0) entry.hasMiddleware = true;
        results.push(entry);
      } catch (error) {
        this.steps.delete(file);
        const failure = error instanceof InvalidConfig ? error : new InvalidConfig(
          `${file}: ${error?.name}: ${error?.message}`, { stack: userStack(error) });
        results.push({ file, error: failure.toError() });
      }
      this.seen.add(file);
    }
    this.afterLoad();
    return { files: results };
  }

  async shutdown() {
    this.shuttingDown = true;
    await Promise.all([...this.inflight.values()].map(({ inv }) => inv.done));
    return null;
  }

  // --- invocations ---------------------------------------------------------------------------

  invoke(id, params) {
    let p;
    let step;
    try {
      if (this.shuttingDown) {
        throw new ShuttingDown('motia-node-runner is shutting down and takes no new invocations');
      }
      p = object('step.invoke', params);
      if (typeof p.invocationId !== 'string') throw bad('step.invoke', 'invocationId', 'a string', p.invocationId);
      if (typeof p.file !== 'string') throw bad('step.invoke', 'file', 'a string', p.file);
      if (!TRIGGERS.has(p.trigger)) {
        throw new InvalidParams(`step.invoke: params.trigger must be api, event or cron, got ${JSON.stringify(p.trigger)}`);
      }
      const { trace } = p;
      if (trace === null || typeof trace !== 'object' || typeof trace.traceId !== 'string'
          || typeof trace.spanId !== 'string') {
        throw new InvalidParams('step.invoke: params.trace must be an object with string traceId and spanId');
      }
      if (p.flows !== undefined && p.flows !== null && !Array.isArray(p.flows)) {
        throw bad('step.invoke', 'flows', 'an array of strings', p.flows);
      }
      const validateBody = p.validateBody ?? false;
      if (typeof validateBody !== 'boolean') throw bad('step.invoke', 'validateBody', 'true or false', validateBody);
      const timeoutMs = p.timeoutMs;
      if (timeoutMs !== undefined && timeoutMs !== null && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))) {
        throw bad('step.invoke', 'timeoutMs', 'a non-negative number', timeoutMs);
      }
      step = this.steps.get(p.file);
      if (step === undefined) {
        throw new StepNotFound(`no step loaded from '${p.file}': send steps.load for it first, `
          + 'or fix the error its load reported');
      }
      if (step.handler === null) {
        throw new StepNotFound(`'${p.file}' is loaded but exports no \`handler\` function `
          + '(noop steps and streams cannot be invoked)');
      }
    } catch (error) {
      this.endpoint.sendError(id, error);
      return;
    }
    const inv = new Invocation(p.invocationId, this.endpoint, this.streams, step,
      (outcome) => this.answer(id, outcome));
    this.inflight.set(id, { inv, step, timeoutMs: p.timeoutMs });
    execute(inv, step, p.trigger, p.input, p.trace, p.flows ?? [], p.timeoutMs, {
      validateBody: p.validateBody ?? false, validateBodies: this.validateBodies });
  }

  answer(id, outcome) {
    this.inflight.delete(id);
    if (outcome.error !== undefined) {
      this.endpoint.sendError(id, outcome.error);
      return;
    }
    try {
      this.endpoint.respond(id, { output: outcome.output });
    } catch (error) {
      const failure = handlerError(error);
      this.endpoint.sendError(id, new HandlerError(
        `the handler's return value cannot be sent as JSON: ${failure.message}`, failure.data));
    }
  }

  /** An error thrown later by a handler's stray timer or promise: fail that invocation. */
  strayError(error, kind) {
    const inv = currentInvocation.getStore();
    if (inv !== undefined && !inv.ended) {
      inv.abort(handlerError(error, `${kind} in the handler: `));
      return;
    }
    const text = `${kind}: ${userStack(error)}`;
    if (inv !== undefined && error?.logged === true) return; // the refused ctx call said it
    if (inv !== undefined) {
      inv.log('error', `${kind} after the invocation ended`, { error: text });
    } else {
      process.stderr.write(`motia-node-runner: ${text}\n`);
    }
  }
}
