import { EventConfig, Handlers } from 'motia'
import { z } from 'zod'

type Greeting = { id: string; name: string; text?: string; status: string }

export const config: EventConfig = {
  type: 'event',
  name: 'DeliverGreeting',
  description: 'Marks the greeting delivered',
  subscribes: ['greeting.composed'],
  emits: [],
  input: z.object({ id: z.string(), text: z.string() }),
  flows: ['greetings'],
}

export const handler: Handlers['DeliverGreeting'] = async (input, { state, logger }) => {
  // Written by the Python step a moment ago.
  const greeting = await state.get<Greeting>('greetings', input.id)
  if (greeting === null) {
    logger.error('no such greeting', { id: input.id })
    return
  }
  await state.set<Greeting>('greetings', input.id, { ...greeting, status: 'delivered' })
  logger.info('greeting delivered', { id: input.id, text: input.text })
}
