export const config = {
  type: 'event', name: 'BenchPolyFirst', subscribes: ['bench.poly.a'], emits: ['bench.poly.b'],
}

export const handler = async (input: any, { emit }: any) => {
  await emit({ topic: 'bench.poly.b', data: input })
}
