// The pipeline's middle: a TS event step that records the item in state and passes it on.
export const config = {
  type: 'event', name: 'ComparePipeRecord', subscribes: ['compare.pipe.accepted'],
  emits: ['compare.pipe.recorded'], flows: ['compare'],
}

export const handler = async (input: any, { emit, state }: any) => {
  await state.set('compare-pipeline', input.id, { id: input.id, recorded: true })
  await emit({ topic: 'compare.pipe.recorded', data: input })
}
