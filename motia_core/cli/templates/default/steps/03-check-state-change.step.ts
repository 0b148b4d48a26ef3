import { EventConfig, Handlers } from 'motia'
import { z } from 'zod'

export const config: EventConfig = {
  type: 'event',
  name: 'CheckStateChange',
  description: 'Reads the state back and checks it',

  subscribes: ['check-state-change'],

  /** The last step of the flow: it emits nothing. */
  emits: [],

  input: z.object({ key: z.string(), expected: z.string() }),

  flows: ['default'],
}

export const handler: Handlers['CheckStateChange'] = async (input, { traceId, logger, state }) => {
  const value = await state.get<string>(traceId, input.key)

  if (value === input.expected) {
    logger.info('Step 03: the state holds the expected value', { key: input.key, value })
  } else {
    logger.error('Step 03: the state does not hold the expected value', {
      key: input.key,
      value,
      expected: input.expected,
    })
  }
}
