// Every state callback once, in order; the output shows what the core answered.
export const config = { type: 'event', name: 'ConformanceState', subscribes: ['conformance.state'], emits: [] }

export const handler = async (input: { group: string }, { state }: any) => {
  const stored = await state.set(input.group, 'k', 'v1')
  const got = await state.get(input.group, 'k')
  const group = await state.getGroup(input.group)
  const deleted = await state.delete(input.group, 'k')
  await state.clear(input.group)
  return { set: stored, got, group, deleted }
}
