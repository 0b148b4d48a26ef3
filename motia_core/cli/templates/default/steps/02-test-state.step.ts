import { EventConfig, Handlers } from 'motia'
import { z } from 'zod'

export const config: EventConfig = {
  type: 'event',
  name: 'SetStateChange',
  description: 'Stores the message in state',

  /** Runs for every 'test-state' event, after the api step has answered. */
  subscribes: ['test-state'],

  emits: ['check-state-change'],

  input: z.object({ message: z.string() }),

  flows: ['default'],
}

export const handler: Handlers['SetStateChange'] = async (input, { traceId, logger, state, emit }) => {
  logger.info('Step 02: storing the message in state', { input })

  /** State is grouped by a free-form id; the trace id gives every run of the flow its own. */
  await state.set<string>(traceId, 'message', input.message)

  await emit({
    topic: 'check-state-change',
    data: { key: 'message', expected: input.message },
  })
}
