export const config = {
  type: 'event',
  name: 'ConformanceRoundtrip',
  subscribes: ['conformance.rt'],
  emits: ['conformance.rt.done'],
}

export const handler = async (input: { i: number }, { state, emit }: any) => {
  await state.set('rt', `k${input.i}`, input.i)
  const got = await state.get('rt', `k${input.i}`)
  await emit({ topic: 'conformance.rt.done', data: { i: input.i } })
  return { i: input.i, got }
}
