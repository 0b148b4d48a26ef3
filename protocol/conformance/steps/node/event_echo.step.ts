// The event convention: handler(input, ctx); the return value is the invocation's output.
export const config = {
  type: 'event',
  name: 'ConformanceEvent',
  subscribes: ['conformance.echo'],
  emits: ['conformance.echoed'],
  input: { type: 'object' },
  flows: ['conformance'],
}

export const handler = async (input: unknown, { traceId, flows }: any) => ({ input, traceId, flows })
