// The OpenTelemetry bridge: spans the user makes inside a handler become children of the
// step's span (PROTOCOL.md 3.9).
//
// Only when the project itself uses `@opentelemetry/api`: the runner depends on nothing. The API
// keeps its registry (context manager, tracer provider) on globalThis, so the test for "in use"
// costs one property read per invocation: a context manager is registered there (an SDK's setup
// does it; without one, `context.with` changes nothing anyway). Then the package is resolved from
// the project root, once; the copy loaded here and the one the step files import share that
// registry. The step's span is the core's, so the handler runs in a context whose active span is
// a non-recording one with the step span's ids (remote, sampled); a span the user starts then
// has it as parent.

import { createRequire } from 'node:module';
import path from 'node:path';

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/;
// Where @opentelemetry/api 1.x registers its globals (its internal/global-utils).
const GLOBALS = Symbol.for('opentelemetry.js.api.1');

let root = process.cwd();
let api; // undefined: not tried yet; null: not installed

/** Where `@opentelemetry/api` is looked for (the project root from `initialize`). */
export function setOtelRoot(projectRoot) {
  root = projectRoot;
  api = undefined;
}

function load() {
  try {
    api = createRequire(path.join(root, 'package.json'))('@opentelemetry/api');
    if (typeof api?.trace?.setSpanContext !== 'function') api = null;
  } catch {
    api = null;
  }
  return api;
}

/** `fn()`, inside a context whose active span is the step's when the project has the API. */
export function withSpanContext(traceparent, tracestate, fn) {
  if (typeof traceparent !== 'string' || globalThis[GLOBALS]?.context === undefined) return fn();
  const otel = api === undefined ? load() : api;
  const m = otel === null ? null : TRACEPARENT.exec(traceparent);
  if (m === null) return fn();
  const spanContext = { traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16) & 1, isRemote: true };
  if (typeof tracestate === 'string' && tracestate && typeof otel.createTraceState === 'function') {
    spanContext.traceState = otel.createTraceState(tracestate);
  }
  return otel.context.with(otel.trace.setSpanContext(otel.context.active(), spanContext), fn);
}
