export const config = { type: 'event', name: 'BenchPolyLast', subscribes: ['bench.poly.c'], emits: [] }

export const handler = async () => undefined
