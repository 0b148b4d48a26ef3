export const config = { type: 'event', name: 'ConformanceNothing', subscribes: ['conformance.nothing'], emits: [] }

export const handler = async () => {}
