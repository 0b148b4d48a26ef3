import { ApiRouteConfig, Handlers } from 'motia'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'StartJob',
  description: 'Starts a long Python job; its progress is pushed on the `progress` stream',
  path: '/jobs',
  method: 'POST',
  emits: ['job.started'],
  bodySchema: {
    type: 'object',
    properties: { items: { type: 'integer', minimum: 1, maximum: 100 } },
    required: ['items'],
  },
  flows: ['jobs'],
}

export const handler: Handlers['StartJob'] = async (req, { emit, streams, traceId }) => {
  const jobId = traceId
  await streams.progress.set('jobs', jobId, { percent: 0, stage: 'queued' })
  await emit({ topic: 'job.started', data: { jobId, items: req.body.items } })
  return { status: 202, body: { jobId, watch: { streamName: 'progress', groupId: 'jobs', id: jobId } } }
}
