// The pipeline's entry: POST /pipeline accepts {id, sink} and emits it (TS api step).
export const config = {
  type: 'api', name: 'ComparePipeStart', path: '/pipeline', method: 'POST',
  emits: ['compare.pipe.accepted'], flows: ['compare'],
}

export const handler = async (req: any, { emit }: any) => {
  await emit({ topic: 'compare.pipe.accepted', data: req.body })
  return { status: 200, body: { accepted: req.body.id } }
}
