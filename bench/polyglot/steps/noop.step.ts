export const config = { type: 'event', name: 'BenchNoopTs', subscribes: ['bench.ts.noop'], emits: [] }

export const handler = async () => undefined
