export const config = { type: 'event', name: 'ConformanceFails', subscribes: ['conformance.fail'], emits: [] }

class ConformanceError extends Error {
  name = 'ConformanceError'
}

export const handler = async (input: { v: number }) => {
  throw new ConformanceError(`bad value ${input.v}`)
}
