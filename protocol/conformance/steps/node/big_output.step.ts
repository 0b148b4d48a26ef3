export const config = { type: 'event', name: 'ConformanceBig', subscribes: ['conformance.big'], emits: [] }

export const handler = async (input: { size: number }) => ({ blob: 'x'.repeat(input.size) })
