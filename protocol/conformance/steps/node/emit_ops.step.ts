export const config = {
  type: 'event',
  name: 'ConformanceEmit',
  subscribes: ['conformance.emit'],
  emits: ['conformance.echoed', 'conformance.grouped'],
}

export const handler = async (input: { n: number }, { emit }: any) => {
  await emit({ topic: 'conformance.echoed', data: { n: input.n } })
  await emit({ topic: 'conformance.grouped', data: { n: input.n }, messageGroupId: 'g1' })
  return { emitted: 2 }
}
