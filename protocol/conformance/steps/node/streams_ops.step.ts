// Every stream callback once, on the stream named "conformance".
export const config = { type: 'event', name: 'ConformanceStreams', subscribes: ['conformance.streams'], emits: [] }

export const handler = async (input: { group: string }, { streams }: any) => {
  const stream = streams.conformance
  const stored = await stream.set(input.group, 'a', { n: 1 })
  const got = await stream.get(input.group, 'a')
  const group = await stream.getGroup(input.group)
  const deleted = await stream.delete(input.group, 'a')
  await stream.send({ groupId: input.group, id: 'a' }, { type: 'ping', data: { x: 1 } })
  return { set: stored, got, group, deleted }
}
