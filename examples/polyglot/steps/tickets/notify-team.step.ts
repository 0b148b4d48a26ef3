import { EventConfig, Handlers } from 'motia'
import { z } from 'zod'

export const config: EventConfig = {
  type: 'event',
  name: 'NotifyTeam',
  subscribes: ['ticket.triaged'],
  emits: [],
  input: z.object({ id: z.string(), priority: z.enum(['low', 'normal', 'urgent']), team: z.string() }),
  flows: ['support'],
}

export const handler: Handlers['NotifyTeam'] = async (input, { state, logger }) => {
  const ticket = await state.get<Record<string, unknown>>('tickets', input.id)
  await state.set('tickets', input.id, { ...ticket, status: 'assigned' })
  await state.set(`inbox:${input.team}`, input.id, { priority: input.priority })
  logger.info('team notified', { team: input.team, id: input.id })
}
