// The W3C trace context of the step's span, as the handler sees it (tier 7).
export const config = {
  type: 'event',
  name: 'ConformanceTraceContext',
  subscribes: ['conformance.trace'],
  emits: [],
  flows: ['conformance'],
}

export const handler = async (_input: unknown, { traceId, traceparent, tracestate }: any) => (
  { traceId, traceparent, tracestate })
