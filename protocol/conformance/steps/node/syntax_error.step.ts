export const config = { type: 'event', name: 'ConformanceBroken', subscribes: ['x'], emits: [] }

export const handler = async (input: any => {
  return 1
}
