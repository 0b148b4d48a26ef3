import { ApiRouteConfig, Handlers } from 'motia'
import { z } from 'zod'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'RequestGreeting',
  description: 'Takes a greeting request; Python composes it, TypeScript delivers it',
  method: 'POST',
  path: '/greetings',
  emits: ['greeting.requested'],
  bodySchema: z.object({ name: z.string().min(1) }),
  responseSchema: {
    202: z.object({ id: z.string(), status: z.literal('requested') }),
  },
  flows: ['greetings'],
}

export const handler: Handlers['RequestGreeting'] = async (req, { state, emit, logger, traceId }) => {
  const id = traceId
  await state.set('greetings', id, { id, name: req.body.name, status: 'requested' })
  await emit({ topic: 'greeting.requested', data: { id, name: req.body.name } })
  logger.info('greeting requested', { id })
  return { status: 202, body: { id, status: 'requested' } }
}
