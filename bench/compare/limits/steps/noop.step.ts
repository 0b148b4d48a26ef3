// The raw limit's TypeScript step: does nothing, so what is measured is the trip to the runner.
export const config = { type: 'event', name: 'CompareNoopTs', subscribes: ['compare.noop'], emits: [] }

export const handler = async () => undefined
