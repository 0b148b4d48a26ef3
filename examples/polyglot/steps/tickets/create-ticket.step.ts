import { ApiRouteConfig, Handlers } from 'motia'
import { z } from 'zod'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'CreateTicket',
  description: 'Opens a support ticket; triage happens in Python',
  path: '/tickets',
  method: 'POST',
  emits: ['ticket.created'],
  bodySchema: z.object({
    title: z.string().min(3),
    body: z.string().min(1),
    customer: z.string().email(),
  }),
  flows: ['support'],
}

export const handler: Handlers['CreateTicket'] = async (req, { state, emit, logger, traceId }) => {
  const ticket = { id: traceId, ...req.body, status: 'open', createdAt: new Date().toISOString() }
  await state.set('tickets', ticket.id, ticket)
  await emit({ topic: 'ticket.created', data: { id: ticket.id } })
  logger.info('ticket opened', { id: ticket.id, customer: ticket.customer })
  return { status: 201, body: ticket }
}
