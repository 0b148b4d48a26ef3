// Tells the core it started (a state.set), sleeps input.ms, tells it it finished.
export const config = { type: 'event', name: 'ConformanceSlow', subscribes: ['conformance.slow'], emits: [] }

export const handler = async (input: { ms: number; tag: string }, { state }: any) => {
  await state.set('slow', input.tag, 'started')
  await new Promise((resolve) => setTimeout(resolve, input.ms))
  await state.set('slow', input.tag, 'finished')
  return { slept: input.ms, tag: input.tag }
}
