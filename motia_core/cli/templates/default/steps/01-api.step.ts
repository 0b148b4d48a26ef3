import { ApiRouteConfig, Handlers } from 'motia'
import { z } from 'zod'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'ApiTrigger',
  description: 'Starts the default flow over HTTP',

  method: 'POST',
  path: '/default',

  /** The topics this step may emit: the next step subscribes to it. */
  emits: ['test-state'],

  /** Checked before the handler runs: a request without a string `message` gets a 400. */
  bodySchema: z.object({ message: z.string() }),

  /** What the handler answers, for types and documentation. */
  responseSchema: {
    200: z.object({ message: z.string(), traceId: z.string() }),
  },

  /** Draws the edge from the noop step in the flow. */
  virtualSubscribes: ['/default'],

  flows: ['default'],
}

export const handler: Handlers['ApiTrigger'] = async (req, { logger, emit, traceId }) => {
  logger.info('Step 01: the api step received a request', { body: req.body })

  /** Handed to every step subscribed to 'test-state'; the response does not wait for them. */
  await emit({ topic: 'test-state', data: { message: req.body.message } })

  return {
    status: 200,
    body: { message: 'test-state emitted', traceId },
  }
}
